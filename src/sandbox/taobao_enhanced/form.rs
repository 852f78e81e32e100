//! Reading a request the way the Taobao-side vendors' gateways do (query string plus a
//! URL-encoded or `multipart/form-data` body) and answering with JSON text.

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

/// Request parameters by name; a `BTreeMap` iterates names in byte order, the signing order.
pub type Params = BTreeMap<String, String>;

/// A JSON text answer, or its first half when the fault gate said so.
pub fn text_response(text: String, truncate: bool) -> Response {
    let body = if truncate {
        let mut cut = text.len() / 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text[..cut].to_string()
    } else {
        text
    };
    (
        [(header::CONTENT_TYPE, "application/json;charset=UTF-8")],
        body,
    )
        .into_response()
}

/// Parameters from the query string and the body, merged. The body may be URL-encoded or
/// `multipart/form-data`, which is what the vendors' own samples send (cURL `--form`, PHP
/// `CURLOPT_POSTFIELDS` with an array, OkHttp `MultipartBody`).
pub fn params(headers: &HeaderMap, query: Option<String>, body: &Bytes) -> Params {
    let mut p = Params::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        p.insert(k.into_owned(), v.into_owned());
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match multipart_boundary(content_type) {
        Some(boundary) => p.extend(multipart_fields(body, &boundary)),
        None => {
            for (k, v) in url::form_urlencoded::parse(body) {
                p.insert(k.into_owned(), v.into_owned());
            }
        }
    }
    p
}

/// The boundary of a `multipart/form-data` content type.
fn multipart_boundary(content_type: &str) -> Option<String> {
    let mut parts = content_type.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("boundary"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
}

/// The text fields of a `multipart/form-data` body.
fn multipart_fields(body: &[u8], boundary: &str) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let name = head
            .split("\r\n")
            .filter(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .flat_map(|l| l.split(';'))
            .filter_map(|kv| kv.trim().strip_prefix("name="))
            .map(|n| n.trim_matches('"').to_string())
            .next();
        if let Some(name) = name {
            let value = value.strip_suffix("\r\n").unwrap_or(value);
            out.push((name, value.to_string()));
        }
    }
    out
}
