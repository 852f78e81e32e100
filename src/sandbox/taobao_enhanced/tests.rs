//! The enhanced list sandbox's own tests: its data, its signature, its filters.

use super::*;
use crate::sandbox::{SandboxOptions, spawn};

fn ago(t: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
    t - chrono::Duration::seconds(secs)
}

#[test]
fn seed_trades_are_kept_verbatim() {
    let items = array_items(SEED_FIXTURE, "\"items\"");
    assert_eq!(items.len(), 2);
    assert!(items[0].starts_with('{') && items[0].ends_with('}'));
    assert_eq!(
        items[1].matches("\"buyer_open_uid\"").count(),
        2,
        "the duplicate key stays"
    );
    let v: Value = serde_json::from_str(items[1]).unwrap();
    assert_eq!(v["tid"], "2161196210547294406");
}

#[test]
fn generated_trades_are_consistent() {
    let o = SandboxOptions {
        orders: 50,
        ..SandboxOptions::default()
    };
    let st = State::new(&o);
    for r in st.rows() {
        let v: Value = serde_json::from_str(&r.text).unwrap();
        assert!(r.created.is_some() && r.modified >= r.created, "{}", r.tid);
        let lines = v["orders"]["order"].as_array().unwrap();
        assert!(!lines.is_empty());
        if v["tid"] == "1410072240792463390" || v["tid"] == "2161196210547294406" {
            continue;
        }
        let cents = |s: &Value| -> i64 { s.as_str().unwrap().replace('.', "").parse().unwrap() };
        let sum = |f: &dyn Fn(&Value) -> i64| -> i64 { lines.iter().map(f).sum() };
        let paid = sum(&|l| cents(&l["divide_order_fee"]));
        assert_eq!(
            paid + cents(&v["post_fee"]),
            cents(&v["payment"]),
            "{}",
            r.tid
        );
        // As Taobao defines the fields: line total_fee = price × num + adjust − discount,
        // divide_order_fee = total_fee − part_mjz_discount, trade discount_fee = Σ shares,
        // trade total_fee = Σ price × num.
        for l in lines {
            let goods = cents(&l["price"]) * l["num"].as_i64().unwrap();
            let total_fee = goods + cents(&l["adjust_fee"]) - cents(&l["discount_fee"]);
            assert_eq!(cents(&l["total_fee"]), total_fee, "{}", r.tid);
            assert_eq!(
                cents(&l["divide_order_fee"]),
                total_fee - cents(&l["part_mjz_discount"])
            );
            let line_payment = if lines.len() == 1 {
                cents(&v["payment"])
            } else {
                total_fee
            };
            assert_eq!(cents(&l["payment"]), line_payment, "{}", r.tid);
        }
        assert_eq!(
            cents(&v["discount_fee"]),
            sum(&|l| cents(&l["part_mjz_discount"]))
        );
        assert_eq!(
            cents(&v["total_fee"]),
            sum(&|l| cents(&l["price"]) * l["num"].as_i64().unwrap())
        );
    }
}

fn signed(mut p: Params) -> String {
    p.insert("appid".into(), APPID.into());
    p.insert("timestamp".into(), Utc::now().timestamp().to_string());
    p.insert("tb_seller_nick".into(), SELLER_NICK.into());
    p.entry("sysid".into()).or_insert_with(|| SYSID.into());
    let sign = expected_sign(APP_SECRET, &p);
    p.insert("sign".into(), sign);
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p.iter())
        .finish()
}

async fn post(addr: std::net::SocketAddr, form: String) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let c = reqwest::Client::builder().no_proxy().build().unwrap();
    let r = c
        .post(format!("http://{addr}/fw199/gateway/taobao/order/ext/list"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap()
}

fn range(start: &str, end: &str, extra: &[(&str, &str)]) -> Params {
    let mut p = Params::new();
    p.insert("start_created".into(), start.into());
    p.insert("end_created".into(), end.into());
    for (k, v) in extra {
        p.insert((*k).into(), (*v).into());
    }
    p
}

#[tokio::test]
async fn checks_signature_time_and_range_like_the_platform() {
    let sb = spawn(
        "127.0.0.1:0".parse().unwrap(),
        SandboxOptions {
            orders: 20,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let p = range(
        "2021-10-01 00:00:00",
        "2021-10-07 23:59:59",
        &[("order_asc", "ASC")],
    );
    let v = post(sb.addr, signed(p.clone())).await;
    assert_eq!(v["code"], 0, "{v}");
    assert_eq!(v["data"]["total"], 2);
    assert_eq!(v["data"]["items"][0]["tid"], "1410072240792463390");
    // A tampered parameter breaks the signature.
    let bad = signed(p.clone()).replace("ASC", "DESC");
    assert_eq!(post(sb.addr, bad).await["code"], E_SIGN);
    // More than a month.
    let long = range("2021-10-01 00:00:00", "2021-11-01 00:00:01", &[]);
    let v = post(sb.addr, signed(long)).await;
    assert_eq!(v["code"], E_RANGE);
    assert!(v["message"].as_str().unwrap().contains("1个月"));
    // Modified-time filter: the second seed trade was modified on 10-07 only.
    let m = range(
        "2021-10-07 00:00:00",
        "2021-10-07 23:59:59",
        &[("date_type", "1")],
    );
    let v = post(sb.addr, signed(m)).await;
    assert_eq!(v["data"]["total"], 1);
    assert_eq!(v["data"]["items"][0]["tid"], "2161196210547294406");
    // Both bounds are included.
    let exact = range("2021-10-02 16:13:56", "2021-10-02 16:13:56", &[]);
    assert_eq!(post(sb.addr, signed(exact)).await["data"]["total"], 1);
    let status = range(
        "2021-10-01 00:00:00",
        "2021-10-07 23:59:59",
        &[("status", "WAIT_BUYER_PAY")],
    );
    assert_eq!(post(sb.addr, signed(status)).await["data"]["total"], 0);
    // No timestamp, wrong seller.
    let mut p2 = range("2021-10-01 00:00:00", "2021-10-07 23:59:59", &[]);
    p2.insert("tb_seller_nick".into(), "someone".into());
    p2.insert("appid".into(), APPID.into());
    p2.insert("timestamp".into(), Utc::now().timestamp().to_string());
    let sign = expected_sign(APP_SECRET, &p2);
    p2.insert("sign".into(), sign);
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(p2.iter())
        .finish();
    assert_eq!(post(sb.addr, form).await["code"], E_SELLER);
}

#[tokio::test]
async fn pages_cover_the_window_exactly_in_ascending_order() {
    let sb = spawn(
        "127.0.0.1:0".parse().unwrap(),
        SandboxOptions {
            orders: 300,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let now = sb.state.options.now;
    let (start, end) = (fmt_time(ago(now, 20 * 86400)), fmt_time(now));
    let mut seen = Vec::new();
    let mut total = 0;
    for page in 1..=4 {
        let p = range(
            &start,
            &end,
            &[
                ("order_asc", "ASC"),
                ("page_no", &page.to_string()),
                ("page_size", "70"),
            ],
        );
        let v = post(sb.addr, signed(p)).await;
        total = v["data"]["total"].as_u64().unwrap();
        for t in v["data"]["items"].as_array().unwrap() {
            seen.push((
                t["created"].as_str().unwrap().to_string(),
                t["tid"].as_str().unwrap().to_string(),
            ));
        }
    }
    assert!(total > 150 && total <= 280, "{total}");
    assert_eq!(seen.len() as u64, total);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "ascending on created");
    let p = range(&start, &end, &[("page_size", "501")]);
    assert_eq!(post(sb.addr, signed(p)).await["code"], E_PAGE);
}

/// platforms.md's two vectors, built by the sandbox's own signer.
#[test]
fn own_signature_matches_the_documented_vectors() {
    let mut p = Params::new();
    for (k, v) in [
        ("appid", "uwkahf@jfs92"),
        ("timestamp", "1633618722"),
        ("tb_seller_nick", "kingdo"),
        ("start_created", "2021-10-01 00:00:00"),
        ("end_created", "2021-10-07 23:59:59"),
        ("page_no", "1"),
        ("page_size", "100"),
        ("sysid", ""),
        ("sign", "ignored"),
    ] {
        p.insert(k.into(), v.into());
    }
    assert_eq!(
        string_to_sign("testsecret", &p),
        "testsecretappiduwkahf@jfs92end_created2021-10-07 23:59:59page_no1page_size100\
         start_created2021-10-01 00:00:00tb_seller_nickkingdotimestamp1633618722testsecret"
    );
    assert_eq!(
        expected_sign("testsecret", &p),
        "c4ccf97d91d15a51d83037030b842169"
    );
    p.insert("tb_seller_nick".into(), "源丰有限贸易".into());
    assert_eq!(
        expected_sign("testsecret", &p),
        "c9eeeaf4b7e89d34dcaaeb4f7cbd17b9"
    );
}

/// The tids a query finds among `st`'s trades, or the error code it is answered with.
async fn find(
    st: &State,
    start: &str,
    end: &str,
    extra: &[(&str, &str)],
) -> Result<Vec<String>, i64> {
    let mut p = range(start, end, &[("sysid", SYSID), ("page_size", "500")]);
    for (k, v) in extra {
        p.insert((*k).into(), (*v).into());
    }
    match Query::parse(&p) {
        Ok(q) => Ok(q
            .run(&st.rows())
            .1
            .iter()
            .map(|t| serde_json::from_str::<Value>(t).unwrap()["tid"].to_string())
            .map(|t| t.trim_matches('"').to_string())
            .collect()),
        Err(r) => {
            let body = axum::body::to_bytes(r.into_body(), usize::MAX)
                .await
                .unwrap();
            let v: Value = serde_json::from_slice(&body).unwrap();
            Err(v["code"].as_i64().unwrap())
        }
    }
}

const SEED1: &str = "1410072240792463390";
const SEED2: &str = "2161196210547294406";

/// The seed week holds just the two example trades.
async fn seeds(st: &State, extra: &[(&str, &str)]) -> Result<Vec<String>, i64> {
    let mut got = find(st, "2021-10-01 00:00:00", "2021-10-07 23:59:59", extra).await?;
    got.sort();
    Ok(got)
}

fn state(orders: usize) -> State {
    State::new(&SandboxOptions {
        orders,
        ..SandboxOptions::default()
    })
}

fn only(tid: &str) -> Result<Vec<String>, i64> {
    Ok(vec![tid.to_string()])
}

#[tokio::test]
async fn buyer_message_filter_follows_its_operator() {
    let st = state(0);
    let m = "需要礼盒,谢谢!";
    let f = |op: &'static str, v: &'static str| [("buyer_message_op", op), ("buyer_message", v)];
    assert_eq!(seeds(&st, &f("eq", m)).await, only(SEED1));
    assert_eq!(seeds(&st, &f("ne", m)).await, only(SEED2));
    assert_eq!(seeds(&st, &f("like", "礼盒")).await, only(SEED1));
    assert_eq!(seeds(&st, &f("LIKE", "不要搞错")).await, Ok(vec![]));
    // eq with no value: the trades without a message.
    assert_eq!(seeds(&st, &[("buyer_message_op", "eq")]).await, only(SEED2));
    // "all 或是不传值,买家留言将不参与查询".
    assert_eq!(seeds(&st, &f("all", "x")).await.unwrap().len(), 2);
    assert_eq!(
        seeds(&st, &[("buyer_message", "x")]).await.unwrap().len(),
        2
    );
    assert_eq!(seeds(&st, &f("contains", "礼盒")).await, Err(E_FORMAT));
    assert_eq!(
        seeds(&st, &[("buyer_message_op", "like")]).await,
        Err(E_MISSING)
    );
}

#[tokio::test]
async fn seller_memo_filter_follows_its_operator() {
    let st = state(0);
    let f = |op: &'static str, v: &'static str| [("seller_memo_op", op), ("seller_memo", v)];
    assert_eq!(seeds(&st, &f("eq", "礼盒")).await, only(SEED1));
    assert_eq!(seeds(&st, &f("ne", "礼盒")).await, only(SEED2));
    assert_eq!(seeds(&st, &f("like", "99")).await, only(SEED2));
    assert_eq!(seeds(&st, &f("eq", "99")).await, Ok(vec![]));
    assert_eq!(seeds(&st, &f("all", "99")).await.unwrap().len(), 2);
    assert_eq!(seeds(&st, &f("gt", "99")).await, Err(E_FORMAT));
}

#[tokio::test]
async fn num_iid_buyer_open_uid_and_sysid_filters() {
    let st = state(0);
    assert_eq!(
        seeds(&st, &[("num_iid", "627502976336")]).await,
        only(SEED2)
    );
    assert_eq!(seeds(&st, &[("num_iid", "1")]).await, Ok(vec![]));
    assert_eq!(seeds(&st, &[("num_iid", "6275x")]).await, Err(E_FORMAT));
    // The second example repeats buyer_open_uid: the last value is the trade's.
    assert_eq!(
        seeds(&st, &[("buyer_open_uid", "AAEt90gYAAjcqSrFKsJnK_Ba")]).await,
        only(SEED2)
    );
    assert_eq!(
        seeds(&st, &[("buyer_open_uid", "AAE-other")]).await,
        Ok(vec![])
    );
    // Without the sample's sysid, or with another app's, no orders come back.
    assert_eq!(seeds(&st, &[("sysid", "")]).await, Ok(vec![]));
    assert_eq!(seeds(&st, &[("sysid", "200")]).await, Ok(vec![]));
    assert_eq!(seeds(&st, &[]).await.unwrap().len(), 2);
}

#[tokio::test]
async fn num_iid_matches_any_line_of_a_generated_trade() {
    let st = state(100);
    let now = st.now_at_start;
    let (start, end) = (fmt_time(ago(now, 29 * 86400)), fmt_time(now));
    let all = find(&st, &start, &end, &[]).await.unwrap();
    let product = 613_373_000_000u64 + 2;
    let hits = find(&st, &start, &end, &[("num_iid", &product.to_string())])
        .await
        .unwrap();
    assert!(!hits.is_empty() && hits.len() < all.len(), "{}", hits.len());
    for r in st.rows().iter().filter(|r| all.contains(&r.tid)) {
        let v: Value = serde_json::from_str(&r.text).unwrap();
        let has = v["orders"]["order"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["num_iid"].as_u64() == Some(product));
        assert_eq!(hits.contains(&r.tid), has, "{}", r.tid);
    }
}

#[tokio::test]
async fn refunding_filter_splits_the_trades() {
    let st = state(300);
    let now = st.now_at_start;
    let (start, end) = (fmt_time(ago(now, 29 * 86400)), fmt_time(now));
    let all = find(&st, &start, &end, &[]).await.unwrap();
    let yes = find(&st, &start, &end, &[("refunding", "1")])
        .await
        .unwrap();
    let no = find(&st, &start, &end, &[("refunding", "0")])
        .await
        .unwrap();
    assert!(!yes.is_empty(), "some trades have a refund in progress");
    assert_eq!(yes.len() + no.len(), all.len());
    let rows = st.rows();
    for tid in &yes {
        let r = rows.iter().find(|r| &r.tid == tid).unwrap();
        assert!(r.text.contains("WAIT_SELLER_AGREE"), "{tid}");
        assert!(!no.contains(tid));
    }
    assert_eq!(
        find(&st, &start, &end, &[("refunding", "2")]).await,
        Err(E_FORMAT)
    );
}

/// The on-demand listing (`Query::select`, paged) answers exactly what the reference over
/// every trade held as a row (`Query::run`) answers, for plain and filtered queries, by both
/// times and in both orders, before and after drift moved trades and added new ones.
#[test]
fn on_demand_listing_matches_the_reference_through_drift() {
    let st = state(600);
    let now = st.now_at_start;
    let fmt = |t: DateTime<Utc>| fmt_time(t);
    let windows = [
        (ago(now, 20 * 86400), ago(now, 10 * 86400)),
        (ago(now, 6 * 86400), now + chrono::Duration::hours(1)),
    ];
    let extras: [&[(&str, &str)]; 6] = [
        &[],
        &[("date_type", "1")],
        &[("order_asc", "ASC")],
        &[("date_type", "1"), ("status", "TRADE_FINISHED")],
        &[("buyer_message_op", "like"), ("buyer_message", "快")],
        &[("refunding", "1"), ("order_asc", "ASC")],
    ];
    let shop = st.shop(1);
    for round in 0..3 {
        let rows = shop.rows();
        for (from, to) in windows {
            for extra in extras {
                let mut p = range(&fmt(from), &fmt(to), extra);
                p.insert("sysid".into(), SYSID.into());
                p.insert("page_size".into(), "37".into());
                let want_q = Query::parse(&p).unwrap_or_else(|_| panic!("{p:?}"));
                let c = shop.lock();
                let hits = want_q.select(shop, &c);
                for page in 1..=(hits.len().div_ceil(37).max(1) + 1) {
                    p.insert("page_no".into(), page.to_string());
                    let q = Query::parse(&p).unwrap_or_else(|_| panic!("{p:?}"));
                    let (total, want) = q.run(&rows);
                    let got: Vec<String> = page_of(&hits, q.page, q.size, q.ascending)
                        .into_iter()
                        .filter_map(|h| shop.text(&c, h))
                        .collect();
                    assert_eq!(total, hits.len(), "round {round} {p:?}");
                    assert_eq!(got, want, "round {round} {p:?}");
                }
                if extra.is_empty() && round == 0 {
                    assert!(hits.len() > 50, "{}", hits.len());
                }
            }
        }
        for _ in 0..30 {
            st.drift();
        }
    }
}
