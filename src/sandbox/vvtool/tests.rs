//! The vv-tool sandbox's own tests: tokens, paging, limits, filters.

use super::*;
use crate::sandbox::{SandboxOptions, spawn};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// One request, paced below the platform's 10 per second.
async fn post(
    c: &reqwest::Client,
    url: String,
    token: Option<&str>,
    form: &[(&str, String)],
) -> (u16, Value) {
    tokio::time::sleep(std::time::Duration::from_millis(110)).await;
    fast_post(c, url, token, form).await
}

async fn fast_post(
    c: &reqwest::Client,
    url: String,
    token: Option<&str>,
    form: &[(&str, String)],
) -> (u16, Value) {
    let mut rb = c.post(url).form(form);
    if let Some(t) = token {
        rb = rb.header("Authorization", format!("Bearer {t}"));
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn token_exchange_paging_and_limits() {
    let sb = spawn(
        "127.0.0.1:0".parse().unwrap(),
        SandboxOptions {
            orders: 200,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}/vvtool", sb.addr);
    let c = client();
    let (s, v) = post(
        &c,
        format!("{base}/api/proxy/oauth/token"),
        None,
        &[
            ("grant_type", "client_credentials".into()),
            ("client_id", CLIENT_ID.into()),
            ("client_secret", "wrong".into()),
        ],
    )
    .await;
    assert_eq!((s, v["code"].as_i64()), (401, Some(401)));
    let (_, v) = post(
        &c,
        format!("{base}/api/proxy/oauth/token"),
        None,
        &[
            ("grant_type", "client_credentials".into()),
            ("client_id", CLIENT_ID.into()),
            ("client_secret", CLIENT_SECRET.into()),
        ],
    )
    .await;
    assert_eq!(v["data"]["token_type"], "Bearer");
    assert_eq!(v["data"]["expires_in"], 7200);
    let tok = v["data"]["access_token"].as_str().unwrap().to_string();
    let sold = format!("{base}/tool/erps/sold");
    let (s, _) = post(&c, sold.clone(), Some("nope"), &[]).await;
    assert_eq!(s, 401);
    fn base_form(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("shop_id", SHOP_ID.to_string()),
            ("fields", "tid,created,type,orders".to_string()),
        ];
        f.extend(extra.iter().cloned());
        f
    }
    // Pages on has_next; trades carry only the fields asked for; keys in text order.
    let mut got = Vec::new();
    let mut page = 1;
    loop {
        let (_, v) = post(
            &c,
            sold.clone(),
            Some(&tok),
            &base_form(&[
                ("page_no", page.to_string()),
                ("page_size", "45".into()),
                ("use_has_next", "true".into()),
                ("type", "fixed,tmall_i18n,o2o_offlinetrade".into()),
            ]),
        )
        .await;
        assert_eq!(v["code"], 0, "{v}");
        let Some(data) = v["data"].as_object() else {
            assert_eq!(v["data"], json!([]));
            break;
        };
        assert!(data.get("total_results").is_none());
        let keys: Vec<&String> = data.keys().filter(|k| k.parse::<u64>().is_ok()).collect();
        let mut n: Vec<u64> = keys.iter().map(|k| k.parse().unwrap()).collect();
        n.sort();
        assert_eq!(n, (0..keys.len() as u64).collect::<Vec<_>>());
        for k in n {
            let t = &data[&k.to_string()];
            let mut names: Vec<&String> = t.as_object().unwrap().keys().collect();
            names.sort();
            assert_eq!(names, ["created", "orders", "tid", "type"]);
            got.push(t["tid"].as_u64().expect("tid is a JSON integer"));
        }
        if data["has_next"] == false {
            break;
        }
        page += 1;
    }
    let all = sb.state.vvtool.trades();
    assert_eq!(
        got.len(),
        all.len(),
        "every trade is within 90 days and of a requested type"
    );
    // Without `type`, tmall_i18n and o2o trades are left out.
    let (_, v) = post(
        &c,
        sold.clone(),
        Some(&tok),
        &base_form(&[("use_has_next", "false".into())]),
    )
    .await;
    let total = v["data"]["total_results"].as_u64().unwrap() as usize;
    let foreign = all.iter().filter(|t| t["type"] != "fixed").count();
    assert!(foreign > 0);
    assert_eq!(total, all.len() - foreign);
    // Limits, answered with the platform's own codes.
    let now = Utc::now();
    let old = fmt_time(earliest_sold(now) - Duration::seconds(1));
    let (_, v) = post(
        &c,
        sold.clone(),
        Some(&tok),
        &base_form(&[("start_created", old)]),
    )
    .await;
    assert_eq!(v["code"], 100);
    assert!(v["msg"].as_str().unwrap().contains("三个月"));
    let (_, v) = post(
        &c,
        sold.clone(),
        Some(&tok),
        &base_form(&[("page_size", "46".into())]),
    )
    .await;
    assert_eq!(
        (v["code"].as_i64(), v["msg"].as_str()),
        (Some(614), Some("API 调用远程服务超时"))
    );
    let inc = format!("{base}/tool/erps/increment");
    let (_, v) = post(&c, inc.clone(), Some(ACCESS_TOKEN), &base_form(&[])).await;
    assert_eq!(
        (v["code"].as_i64(), v["msg"].as_str()),
        (Some(614), Some("不合法的参数"))
    );
    let (_, v) = post(
        &c,
        inc.clone(),
        Some(ACCESS_TOKEN),
        &base_form(&[
            ("start_create", fmt_time(now - Duration::days(2))),
            (
                "end_create",
                fmt_time(now - Duration::days(1) + Duration::seconds(1)),
            ),
        ]),
    )
    .await;
    assert_eq!(v["code"], 614);
    assert!(v["msg"].as_str().unwrap().starts_with("非法的参数"));
    let mut other = base_form(&[]);
    other[0].1 = "999".into();
    let (_, v) = post(&c, sold.clone(), Some(&tok), &other).await;
    assert_eq!(v["code"], 302);
    // Tokens expire.
    sb.state.vvtool.expire_tokens();
    let (s, _) = post(&c, sold.clone(), Some(&tok), &base_form(&[])).await;
    assert_eq!(s, 401);
}

#[tokio::test]
async fn more_than_ten_requests_a_second_are_throttled() {
    let sb = spawn(
        "127.0.0.1:0".parse().unwrap(),
        SandboxOptions {
            orders: 5,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let c = client();
    let url = format!("http://{}/vvtool/tool/erps/sold", sb.addr);
    let mut codes = Vec::new();
    for _ in 0..12 {
        let (_, v) = fast_post(
            &c,
            url.clone(),
            Some(ACCESS_TOKEN),
            &[("shop_id", SHOP_ID.into()), ("fields", "tid".into())],
        )
        .await;
        codes.push(v["code"].as_i64().unwrap());
    }
    assert_eq!(&codes[..10], &[0; 10]);
    assert_eq!(codes[10], 614);
    assert!(sb.state.faults.stats.throttled.load(Ordering::Relaxed) >= 1);
}

#[tokio::test]
async fn multipart_forms_like_the_vendor_samples_are_read() {
    let sb = spawn(
        "127.0.0.1:0".parse().unwrap(),
        SandboxOptions {
            orders: 20,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    // What `curl --form "fields=..." --form "shop_id=..."` sends.
    let b = "------------------------d74496d66958873e";
    let mut body = String::new();
    for (k, v) in [
        ("fields", "tid,type,status,orders,receiver_name"),
        ("shop_id", SHOP_ID),
        ("page_size", "2"),
    ] {
        body.push_str(&format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
        ));
    }
    body.push_str(&format!("--{b}--\r\n"));
    let r = client()
        .post(format!("http://{}/vvtool/tool/erps/sold", sb.addr))
        .header("Authorization", format!("Bearer {ACCESS_TOKEN}"))
        .header("Content-Type", format!("multipart/form-data; boundary={b}"))
        .body(body)
        .send()
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["code"], 0, "{v}");
    assert_eq!(
        v["data"]["total_results"].as_u64().map(|n| n > 2),
        Some(true),
        "{v}"
    );
    let mut keys: Vec<&String> = v["data"]["1"].as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["orders", "receiver_name", "status", "tid", "type"]);
}

#[test]
fn seed_trade_keeps_the_example_verbatim() {
    let t = seed_trade(Utc::now());
    let example: Value = serde_json::from_str(SEED_FIXTURE).unwrap();
    assert_eq!(t["orders"], example["data"]["0"]["orders"]);
    assert_eq!(t["buyer_nick"], example["data"]["0"]["buyer_nick"]);
    assert_eq!(t["tid"].as_u64(), Some(SEED_TID));
}

fn form(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The trades of a fresh sandbox a filter keeps, or the `100` message it is refused with.
fn kept(pairs: &[(&str, &str)]) -> Result<Vec<Value>, String> {
    let st = State::new(&SandboxOptions {
        orders: 300,
        ..SandboxOptions::default()
    });
    let f = Filters::parse(&form(pairs))?;
    Ok(st.trades().into_iter().filter(|t| f.accepts(t)).collect())
}

#[test]
fn buyer_nick_filter() {
    let all = kept(&[]).unwrap();
    let nick = dataset::BUYERS[1];
    let got = kept(&[("buyer_nick", nick)]).unwrap();
    assert!(!got.is_empty() && got.len() < all.len());
    assert!(got.iter().all(|t| t["buyer_nick"] == nick));
    let want = all.iter().filter(|t| t["buyer_nick"] == nick).count();
    assert_eq!(got.len(), want);
    assert!(kept(&[("buyer_nick", "nobody")]).unwrap().is_empty());
}

#[test]
fn rate_status_filter_reads_both_rates() {
    let all = kept(&[]).unwrap();
    let rates = |t: &Value| (t["buyer_rate"] == true, t["seller_rate"] == true);
    for (value, want) in [
        (
            "RATE_UNBUYER",
            &(|b: bool, _: bool| !b) as &dyn Fn(bool, bool) -> bool,
        ),
        ("RATE_UNSELLER", &|_, s| !s),
        ("RATE_BUYER_UNSELLER", &|b, s| b && !s),
        ("RATE_UNBUYER_SELLER", &|b, s| !b && s),
        ("RATE_BUYER_SELLER", &|b, s| b && s),
    ] {
        let got = kept(&[("rate_status", value)]).unwrap();
        let expected = all
            .iter()
            .filter(|t| {
                let (b, s) = rates(t);
                want(b, s)
            })
            .count();
        assert!(got.len() < all.len() && !got.is_empty(), "{value}");
        assert_eq!(got.len(), expected, "{value}");
    }
    assert!(
        kept(&[("rate_status", "RATE_ALL")])
            .unwrap_err()
            .contains("rate_status")
    );
}

#[test]
fn ext_type_filter_takes_one_documented_value() {
    let marked = kept(&[("ext_type", "mark")]).unwrap();
    assert!(!marked.is_empty());
    assert!(marked.iter().all(|t| t["mark_desc"] != ""));
    assert!(kept(&[("ext_type", "service")]).unwrap().is_empty());
    assert!(kept(&[("ext_type", "ershou")]).unwrap().is_empty());
    let with_service = serde_json::json!({"service_orders": [{"oid": 1}]});
    let f = Filters::parse(&form(&[("ext_type", "service")])).unwrap();
    assert!(f.accepts(&with_service));
    assert!(
        kept(&[("ext_type", "mark,service")])
            .unwrap_err()
            .contains("单个")
    );
    assert!(kept(&[("ext_type", "used")]).is_err());
}

#[test]
fn tag_filter_finds_no_top_up_trades() {
    assert!(!kept(&[]).unwrap().is_empty());
    assert!(kept(&[("tag", "time_card")]).unwrap().is_empty());
    assert!(kept(&[("tag", "fee_card")]).unwrap().is_empty());
    assert!(kept(&[("tag", "vip")]).unwrap_err().contains("tag"));
}

/// Through the endpoint: a filter is applied to the listing, a bad value is code 100.
#[tokio::test]
async fn filters_apply_to_the_listing() {
    let sb = spawn(
        "127.0.0.1:0".parse().unwrap(),
        SandboxOptions {
            orders: 100,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let url = format!("http://{}/vvtool/tool/erps/sold", sb.addr);
    let c = client();
    let base = |extra: &[(&'static str, &str)]| {
        let mut f: Vec<(&str, String)> = vec![
            ("shop_id", SHOP_ID.into()),
            ("fields", "tid,buyer_nick".into()),
            ("type", "fixed,tmall_i18n,o2o_offlinetrade".into()),
            ("page_size", "45".into()),
        ];
        f.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
        f
    };
    let nick = dataset::BUYERS[2];
    let (_, v) = post(
        &c,
        url.clone(),
        Some(ACCESS_TOKEN),
        &base(&[("buyer_nick", nick)]),
    )
    .await;
    assert_eq!(v["code"], 0, "{v}");
    let want = sb
        .state
        .vvtool
        .trades()
        .iter()
        .filter(|t| t["buyer_nick"] == nick)
        .count();
    assert_eq!(v["data"]["total_results"], want);
    let (_, v) = post(&c, url.clone(), Some(ACCESS_TOKEN), &base(&[("tag", "x")])).await;
    assert_eq!(v["code"], 100, "{v}");
}
