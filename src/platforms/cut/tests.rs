use super::*;

/// Records what a pass hands over.
#[derive(Default)]
struct Seen {
    heads: Vec<String>,
    orders: Vec<(usize, String)>,
    hand_over: bool,
    stop_after: Option<usize>,
}

impl Cuts for Seen {
    fn opened(&mut self, head: &[u8]) -> bool {
        self.heads.push(String::from_utf8(head.to_vec()).unwrap());
        self.hand_over
    }
    fn order(&mut self, index: usize, bytes: &[u8]) -> bool {
        self.orders
            .push((index, String::from_utf8(bytes.to_vec()).unwrap()));
        self.stop_after.is_none_or(|n| self.orders.len() < n)
    }
}

/// A reader that gives one byte at a time: every token crosses a read.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some((&b, rest)) = self.0.split_first() else {
            return Ok(0);
        };
        buf[0] = b;
        self.0 = rest;
        Ok(1)
    }
}

const ITEMS: ListAt = ListAt {
    path: &["data", "items"],
    container: Container::Array,
};

const NUMBERED: ListAt = ListAt {
    path: &["data"],
    container: Container::Numbered,
};

fn run(text: &str, at: &ListAt, trickle: bool) -> (Result<Cut, CutError>, Seen) {
    let mut seen = Seen {
        hand_over: true,
        ..Seen::default()
    };
    let out = if trickle {
        cut(Trickle(text.as_bytes()), at, &mut seen)
    } else {
        cut(text.as_bytes(), at, &mut seen)
    };
    (out, seen)
}

#[test]
fn an_array_is_cut_into_its_orders_and_a_skeleton() {
    let text =
        r#"{"code":0, "data":{"total":3,"items":[ {"a":1},{"b":"x]}\"{"} , [1,2] ]},"z":true}  "#;
    for trickle in [false, true] {
        let (out, seen) = run(text, &ITEMS, trickle);
        let out = out.unwrap();
        assert!(out.found);
        assert_eq!(out.orders, 3);
        assert_eq!(
            String::from_utf8(out.skeleton).unwrap(),
            r#"{"code":0, "data":{"total":3,"items":[]},"z":true}  "#
        );
        assert_eq!(seen.heads, [r#"{"code":0, "data":{"total":3,"items":[]}}"#]);
        assert_eq!(
            seen.orders,
            [
                (0, r#"{"a":1}"#.to_string()),
                (1, r#"{"b":"x]}\"{"}"#.to_string()),
                (2, "[1,2]".to_string())
            ]
        );
    }
}

#[test]
fn numbered_members_are_cut_while_their_keys_count_up_from_zero() {
    let text = r#"{"code":0,"data":{"0":{"a":1},"has_next":true,"1":{"b":2},"3":{"c":3},"2":"x","01":4,"trades":[{"t":1}]}}"#;
    for trickle in [false, true] {
        let (out, seen) = run(text, &NUMBERED, trickle);
        let out = out.unwrap();
        assert_eq!(out.orders, 3);
        assert_eq!(
            String::from_utf8(out.skeleton).unwrap(),
            r#"{"code":0,"data":{"has_next":true,"3":{"c":3},"01":4,"trades":[{"t":1}]}}"#
        );
        assert_eq!(seen.heads, [r#"{"code":0,"data":{}}"#]);
        let cut: Vec<_> = seen.orders.iter().map(|(i, s)| (*i, s.as_str())).collect();
        assert_eq!(cut, [(0, r#"{"a":1}"#), (1, r#"{"b":2}"#), (2, r#""x""#)]);
    }
}

#[test]
fn an_answer_without_the_container_is_its_own_skeleton() {
    for text in [
        r#"{"code":500,"msg":"no","data":null}"#,
        r#"{"code":0,"data":{"items":null}}"#,
        r#"[1,2,3]"#,
        "",
    ] {
        let (out, seen) = run(text, &ITEMS, false);
        let out = out.unwrap();
        assert!(!out.found, "{text}");
        assert_eq!(out.orders, 0);
        assert_eq!(out.skeleton, text.as_bytes());
        assert!(seen.heads.is_empty() && seen.orders.is_empty());
    }
}

#[test]
fn orders_are_only_counted_when_the_caller_declines_them() {
    let text = r#"{"result":{"model_list":[{"a":1},{"a":2}]},"code":"0"}"#;
    let at = ListAt {
        path: &["result", "model_list"],
        container: Container::Array,
    };
    let mut seen = Seen::default();
    let out = cut(text.as_bytes(), &at, &mut seen).unwrap();
    assert_eq!(out.orders, 2);
    assert!(seen.orders.is_empty());
    assert_eq!(seen.heads, [r#"{"result":{"model_list":[]}}"#]);
    assert_eq!(out.skeleton, br#"{"result":{"model_list":[]},"code":"0"}"#);
}

#[test]
fn a_stop_ends_the_pass_at_once() {
    let text = r#"{"data":{"items":[1,2,3,4]}}"#;
    let mut seen = Seen {
        hand_over: true,
        stop_after: Some(2),
        ..Seen::default()
    };
    let out = cut(text.as_bytes(), &ITEMS, &mut seen).unwrap();
    assert!(out.stopped);
    assert_eq!(seen.orders.len(), 2);
}

#[test]
fn escaped_keys_and_whitespace_are_read() {
    let text = " { \"d\\u0061ta\" :\n { \"items\" : [ 1 , \"a\\\\\" ] } } ";
    let (out, seen) = run(text, &ITEMS, true);
    assert_eq!(out.unwrap().orders, 2);
    assert_eq!(seen.orders[1].1, "\"a\\\\\"");
}

#[test]
fn broken_answers_are_syntax_errors_with_an_offset() {
    for (text, what) in [
        (r#"{"data":{"items":[{"a":1},{"b"#, "breaks off"),
        (
            r#"{"data":{"items":[{"a":1} {"b":2}]}}"#,
            "expected ',' or ']'",
        ),
        (r#"{"data":{"items":[1,]}}"#, "expected an order"),
        (r#"{"data" {"items":[]}}"#, "expected ':'"),
        (r#"{"data":{"items":[]},"data":{"items":[]}}"#, "twice"),
        (r#"{"data":{"items":[1]} "x":1}"#, "expected ',' or '}'"),
        (r#"{"data":{"0":1 "1":2}}"#, "expected ',' or '}'"),
    ] {
        let at = if text.contains("\"0\"") {
            &NUMBERED
        } else {
            &ITEMS
        };
        for trickle in [false, true] {
            let (out, _) = run(text, at, trickle);
            match out {
                Err(CutError::Syntax { what: w, .. }) => assert!(w.contains(what), "{text}: {w}"),
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}

#[test]
fn a_large_answer_is_cut_across_many_reads() {
    let orders: Vec<String> = (0..20_000)
        .map(|i| {
            format!(
                r#"{{"id":"{i}","note":"{}\"]}}","n":[{i},{{"x":null}}]}}"#,
                "y".repeat(i % 97)
            )
        })
        .collect();
    let text = format!(
        r#"{{"data":{{"items":[{}],"total":20000}},"code":0}}"#,
        orders.join(",")
    );
    let (out, seen) = run(&text, &ITEMS, false);
    let out = out.unwrap();
    assert_eq!(out.orders, 20_000);
    assert!(seen.orders.iter().map(|(_, o)| o).eq(orders.iter()));
    assert_eq!(
        out.skeleton,
        br#"{"data":{"items":[],"total":20000},"code":0}"#
    );
    for (_, o) in &seen.orders {
        serde_json::from_str::<serde_json::Value>(o).unwrap();
    }
}

#[test]
fn an_order_larger_than_many_reads_is_cut_whole() {
    let big = format!(r#"{{"note":"{}","n":1}}"#, "x\\\"]".repeat(3 << 20));
    let text = format!(r#"{{"data":{{"items":[1,{big},2]}}}}"#);
    let (out, seen) = run(&text, &ITEMS, false);
    assert_eq!(out.unwrap().orders, 3);
    assert_eq!(seen.orders[1].1, big);
    serde_json::from_str::<serde_json::Value>(&seen.orders[1].1).unwrap();
}

/// Where a string that opens at `b[0]` ends, one byte at a time.
fn string_end_by_bytes(b: &[u8]) -> Option<usize> {
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    None
}

proptest::proptest! {
    /// Strings of every length around the sixteen-byte steps, with escaped quotes and
    /// backslashes anywhere (a backslash last of all included): the end is where a byte by
    /// byte reading puts it, and `None` when the string is cut short.
    #[test]
    fn a_string_ends_where_a_byte_by_byte_reading_ends_it(
        body in proptest::collection::vec(
            proptest::prop_oneof![
                8 => proptest::prelude::Just(b"a".to_vec()),
                2 => proptest::prelude::Just("淘".as_bytes().to_vec()),
                1 => proptest::prelude::Just(b"\\\"".to_vec()),
                1 => proptest::prelude::Just(b"\\\\".to_vec()),
                1 => proptest::prelude::Just(b"\\".to_vec()),
                1 => proptest::prelude::Just(b"\"".to_vec()),
            ],
            0..80,
        ),
    ) {
        let mut b = vec![b'"'];
        b.extend(body.concat());
        proptest::prop_assert_eq!(string_end(&b, 0), string_end_by_bytes(&b));
        for cut in 1..b.len() {
            proptest::prop_assert_eq!(string_end(&b[..cut], 0), string_end_by_bytes(&b[..cut]));
        }
    }
}

/// Where the object or array that opens at `b[0]` ends, one byte at a time.
fn bracketed_len_by_bytes(b: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += string_end_by_bytes(&b[i..])?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A piece of a value: a byte outside strings, or a whole string (which may hold brackets,
/// quotes and backslash runs of any length).
fn piece() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    let text = proptest::collection::vec(
        prop_oneof![
            6 => Just(b"a".to_vec()),
            2 => Just("淘".as_bytes().to_vec()),
            2 => Just(b"{[}]".to_vec()),
            1 => Just(b"\\\"".to_vec()),
            1 => Just(b"\\\\".to_vec()),
            1 => Just(b"\\\\\\\\\\\\".to_vec()),
            1 => Just(b"\\n".to_vec()),
        ],
        0..40,
    )
    .prop_map(|parts| {
        let mut s = vec![b'"'];
        s.extend(parts.concat());
        s.push(b'"');
        s
    });
    prop_oneof![
        3 => text,
        2 => Just(b"{".to_vec()),
        2 => Just(b"[".to_vec()),
        2 => Just(b"}".to_vec()),
        2 => Just(b"]".to_vec()),
        2 => Just(b",:1 ".to_vec()),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]
    /// Values of a few hundred bytes (several blocks), strings in them holding brackets and
    /// backslash runs across the blocks' edges: the end is where a byte by byte reading puts
    /// it, also when the value is cut short anywhere.
    #[test]
    fn a_value_ends_where_a_byte_by_byte_reading_ends_it(
        pieces in proptest::collection::vec(piece(), 0..60),
        open in proptest::prelude::any::<bool>(),
    ) {
        let mut b = vec![if open { b'{' } else { b'[' }];
        b.extend(pieces.concat());
        b.extend_from_slice(b"]}]}]}]}]}]}]}]}]}]}]}]}]}]}]}");
        let whole = bracketed_len_by_bytes(&b);
        proptest::prop_assert_eq!(value_len(&b, true), whole);
        for cut in 1..b.len() {
            proptest::prop_assert_eq!(
                value_len(&b[..cut], false),
                bracketed_len_by_bytes(&b[..cut]),
                "cut at {}", cut
            );
        }
    }
}
