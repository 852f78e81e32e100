//! `normalize` of large answers, read as a stream: every platform's answer of a few thousand
//! orders comes out whole and in order from a file, a redirect and a pipe alike; an error
//! answer yields no order even when its `code` comes after the orders; an order that does not
//! read stops the output right before it, with its path named.

use crate::support::{Run, command, run_binary};
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

/// A platform's list fixture and where its orders are.
struct Case {
    platform: &'static str,
    fixture: &'static str,
    /// Keys down to the orders; `None` for vv-tool's numbered members of `data`.
    list: Option<[&'static str; 2]>,
    /// The order id's key in a wire order.
    id: &'static str,
}

const CASES: [Case; 5] = [
    Case {
        platform: "taobao-tw",
        fixture: "taobao-tw/orders_get.json",
        list: Some(["result", "model_list"]),
        id: "trade_order_id",
    },
    Case {
        platform: "taobao-enhanced",
        fixture: "taobao-enhanced/list.json",
        list: Some(["data", "items"]),
        id: "tid",
    },
    Case {
        platform: "vvtool",
        fixture: "vvtool/sold_reference.json",
        list: None,
        id: "tid",
    },
    Case {
        platform: "pandapon-taobao",
        fixture: "pandapon-taobao/page.json",
        list: Some(["data", "data"]),
        id: "orderNo",
    },
    Case {
        platform: "pandapon-1688",
        fixture: "pandapon-1688/page.json",
        list: Some(["data", "data"]),
        id: "orderNo",
    },
];

const ORDERS: usize = 3_000;

impl Case {
    fn seed(&self) -> Value {
        let root = env!("CARGO_MANIFEST_DIR");
        let text = std::fs::read_to_string(format!("{root}/fixtures/{}", self.fixture)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// The fixture's answer with `n` orders (its own repeated, each with an id of its own),
    /// `edit` applied to the list of orders; returns the answer and the ids in order.
    fn answer(&self, n: usize, edit: impl FnOnce(&mut Vec<Value>)) -> (Value, Vec<String>) {
        let mut doc = self.seed();
        let seed: Vec<Value> = match self.list {
            Some([a, b]) => doc[a][b].as_array().unwrap().clone(),
            None => vec![doc["data"]["0"].clone()],
        };
        let mut ids = Vec::new();
        let mut orders: Vec<Value> = (0..n)
            .map(|i| {
                let mut o = seed[i % seed.len()].clone();
                let id = 7_000_000_000u64 + i as u64;
                o[self.id] = match o[self.id] {
                    Value::String(_) => json!(id.to_string()),
                    _ => json!(id),
                };
                if o.get("tid_str").is_some() {
                    o["tid_str"] = json!(id.to_string());
                }
                ids.push(id.to_string());
                o
            })
            .collect();
        edit(&mut orders);
        match self.list {
            Some([a, b]) => doc[a][b] = Value::Array(orders),
            None => {
                let data = doc["data"].as_object_mut().unwrap();
                data.retain(|k, _| !k.bytes().all(|c| c.is_ascii_digit()));
                for (i, o) in orders.into_iter().enumerate() {
                    data.insert(i.to_string(), o);
                }
            }
        }
        (doc, ids)
    }

    fn args<'a>(&'a self, file: &'a str) -> Vec<&'a str> {
        vec!["normalize", "--platform", self.platform, file]
    }
}

fn write(dir: &Path, name: &str, doc: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

/// `normalize … -` with `body` written into a pipe.
fn through_pipe(args: &[&str], body: Vec<u8>) -> Run {
    let mut child = command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // The command may stop reading early (an error answer): a broken pipe is fine.
        let _ = stdin.write_all(&body);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out.into()
}

/// `normalize … -` with standard input redirected from `file`.
fn from_redirect(args: &[&str], file: &str) -> Run {
    command()
        .args(args)
        .stdin(std::fs::File::open(file).unwrap())
        .output()
        .unwrap()
        .into()
}

#[test]
fn every_platforms_large_answer_comes_out_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    for case in &CASES {
        let (doc, ids) = case.answer(ORDERS, |_| {});
        let file = write(dir.path(), &format!("{}.json", case.platform), &doc);
        let run = run_binary(&case.args(&file)).ok();
        let got: Vec<String> = run
            .ndjson()
            .iter()
            .map(|o| o["order_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            got, ids,
            "{}: order ids out of order or missing",
            case.platform
        );
        let piped = through_pipe(&case.args("-"), doc.to_string().into_bytes()).ok();
        assert!(
            piped.stdout == run.stdout,
            "{}: a pipe reads differently",
            case.platform
        );
        let redirected = from_redirect(&case.args("-"), &file).ok();
        assert!(
            redirected.stdout == run.stdout,
            "{}: a redirect reads differently",
            case.platform
        );
        // The same orders, one by one in answers of their own, read the same.
        let one = |i: usize| {
            let (doc, _) = case.answer(1, |orders| orders[0] = doc_order(case, &doc, i));
            let f = write(dir.path(), "one.json", &doc);
            run_binary(&case.args(&f)).ok().ndjson().remove(0)
        };
        for i in [0, 1, ORDERS / 2, ORDERS - 1] {
            assert_eq!(one(i), run.ndjson()[i], "{}: order {i}", case.platform);
        }
    }
}

/// Order `i` of an answer built by [`Case::answer`].
fn doc_order(case: &Case, doc: &Value, i: usize) -> Value {
    match case.list {
        Some([a, b]) => doc[a][b][i].clone(),
        None => doc["data"][i.to_string()].clone(),
    }
}

#[test]
fn an_order_that_does_not_read_stops_the_output_right_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = ORDERS / 2 + 7;
    for case in &CASES {
        let (doc, _) = case.answer(ORDERS, |orders| orders[bad] = json!("not an order"));
        let file = write(dir.path(), "bad.json", &doc);
        for run in [
            run_binary(&case.args(&file)),
            through_pipe(&case.args("-"), doc.to_string().into_bytes()),
        ] {
            assert_eq!(run.code, 1, "{}: {}", case.platform, run.stderr);
            assert_eq!(run.stdout.lines().count(), bad, "{}", case.platform);
            let at = match case.list {
                Some(_) => format!("[{bad}]"),
                None => format!("data.{bad}"),
            };
            assert!(
                run.stderr.contains(&at),
                "{}: {}",
                case.platform,
                run.stderr
            );
        }
    }
}

#[test]
fn an_error_answer_yields_no_order_even_with_its_code_after_the_orders() {
    let dir = tempfile::tempdir().unwrap();
    for case in &CASES {
        let (mut doc, _) = case.answer(ORDERS, |_| {});
        // taobao-tw's `code` comes after `result` (serde_json keeps keys sorted: "code" would
        // come first, so the answer is written by hand below); the others' comes first.
        let text = if case.platform == "taobao-tw" {
            let result = doc["result"].take();
            format!(
                r#"{{"result":{result},"code":"IllegalAccessToken","type":"ISV","message":"expired","request_id":"x"}}"#
            )
        } else {
            doc["code"] = json!(500);
            doc["msg"] = json!("server busy");
            doc["message"] = json!("server busy");
            doc.to_string()
        };
        if case.platform == "taobao-tw" {
            assert!(text.find(r#""code":"Illegal"#) > text.find("model_list"));
        }
        let file = dir.path().join("error.json");
        std::fs::write(&file, &text).unwrap();
        for run in [
            run_binary(&case.args(file.to_str().unwrap())),
            through_pipe(&case.args("-"), text.clone().into_bytes()),
        ] {
            assert_ne!(run.code, 0, "{}", case.platform);
            assert_eq!(
                run.stdout, "",
                "{}: orders of an error answer",
                case.platform
            );
            assert!(
                run.stderr.contains("expired") || run.stderr.contains("server busy"),
                "{}: {}",
                case.platform,
                run.stderr
            );
        }
    }
}

#[test]
fn an_answer_that_breaks_off_keeps_what_came_before_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let case = &CASES[3];
    let (doc, _) = case.answer(ORDERS, |_| {});
    let text = doc.to_string();
    let cut = text.len() * 2 / 3;
    let file = dir.path().join("cut.json");
    std::fs::write(&file, &text[..cut]).unwrap();
    let run = run_binary(&[
        "normalize",
        "--platform",
        case.platform,
        "--format",
        "json",
        file.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("breaks off"), "{}", run.stderr);
    assert!(run.stdout.starts_with('[') && !run.stdout.trim_end().ends_with(']'));
}

#[test]
fn json_output_holds_the_ndjson_orders_and_csv_reads_them_too() {
    let dir = tempfile::tempdir().unwrap();
    for case in &CASES {
        let (doc, ids) = case.answer(ORDERS, |_| {});
        let file = write(dir.path(), "answer.json", &doc);
        let lines = run_binary(&case.args(&file)).ok().ndjson();
        let mut args = case.args(&file);
        args.extend(["--format", "json"]);
        let json = run_binary(&args).ok();
        let array: Vec<Value> = serde_json::from_str(&json.stdout).unwrap();
        assert!(array == lines, "{}: JSON and NDJSON differ", case.platform);
        let mut args = case.args(&file);
        args.extend(["--format", "csv", "--csv", "orders"]);
        let csv = run_binary(&args).ok();
        // A header, then one row per order (no text here holds a line break).
        assert_eq!(
            csv.stdout.lines().count(),
            ids.len() + 1,
            "{}",
            case.platform
        );
        assert!(csv.stdout.lines().nth(1).unwrap().contains(&ids[0]));
    }
}

#[test]
fn a_warning_every_order_gives_is_shown_five_times_then_counted() {
    let dir = tempfile::tempdir().unwrap();
    let case = &CASES[3];
    assert_eq!(case.platform, "pandapon-taobao");
    let (doc, ids) = case.answer(ORDERS, |orders| {
        for o in orders {
            o.as_object_mut().unwrap().remove("purchaseAmount");
        }
    });
    let file = write(dir.path(), "answer.json", &doc);
    let about = |run: &Run| {
        run.stderr
            .lines()
            // The order's own amount (its lines' are warned about as another kind).
            .filter(|l| l.contains("field purchaseAmount ("))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let run = run_binary(&case.args(&file)).ok();
    assert_eq!(run.ndjson().len(), ids.len(), "every order is kept");
    let said = about(&run);
    assert_eq!(said.len(), 6, "five warnings and the count: {said:#?}");
    assert!(said[..5].iter().all(|l| l.contains("WARN")));
    let rest = ORDERS - 5;
    assert!(
        said[5].contains(&format!("{rest} more warnings like this one were left out")),
        "{}",
        said[5]
    );
    let mut verbose = case.args(&file);
    verbose.push("-v");
    assert_eq!(
        about(&run_binary(&verbose).ok()).len(),
        ORDERS,
        "-v shows them all"
    );
}
