//! Dead-letter records: the original message value, unchanged, under the original key, with the
//! original headers plus `wiredesk-*` headers saying why, where and when. Nothing about a rejected
//! message is lost, so it can be fixed and replayed onto the input topic.

use super::sink::{Destination, OutRecord};
use crate::error::Rejection;

/// Longest `wiredesk-detail` header; details can quote input, which may be large.
const MAX_DETAIL_BYTES: usize = 1024;

/// What the dead-letter record needs to know about the source message.
pub struct Source<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub headers: Vec<(String, Vec<u8>)>,
}

pub fn record(dead_letter_topic: &str, source: Source<'_>, rejection: &Rejection) -> OutRecord {
    let mut headers = source.headers;
    headers.push((
        "wiredesk-reason".into(),
        rejection.code.as_str().as_bytes().to_vec(),
    ));
    headers.push(("wiredesk-stage".into(), rejection.stage.as_bytes().to_vec()));
    headers.push((
        "wiredesk-detail".into(),
        truncate(&rejection.detail, MAX_DETAIL_BYTES)
            .as_bytes()
            .to_vec(),
    ));
    headers.push((
        "wiredesk-source".into(),
        format!("{}/{}/{}", source.topic, source.partition, source.offset).into_bytes(),
    ));
    headers.push((
        "wiredesk-time".into(),
        chrono::Utc::now().to_rfc3339().into_bytes(),
    ));
    headers.push((
        "wiredesk-version".into(),
        env!("CARGO_PKG_VERSION").as_bytes().to_vec(),
    ));
    OutRecord {
        destination: Destination::DeadLetter,
        topic: dead_letter_topic.to_owned(),
        key: source.key.map(<[u8]>::to_vec),
        payload: source.payload.map(<[u8]>::to_vec),
        headers,
    }
}

/// Cut at a char boundary at or below `max` bytes.
pub fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RejectCode;

    #[test]
    fn keeps_original_bytes_key_and_headers_and_adds_reason() {
        let rejection = Rejection::new(RejectCode::InvalidJson, "x".repeat(5000));
        let r = record(
            "dlq",
            Source {
                topic: "in",
                partition: 2,
                offset: 7,
                key: Some(b"k"),
                payload: Some(b"\xff{"),
                headers: vec![("traceparent".into(), b"00-a".to_vec())],
            },
            &rejection,
        );
        assert_eq!(r.payload.as_deref(), Some(&b"\xff{"[..]));
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        let get = |name: &str| {
            r.headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(get("traceparent").as_deref(), Some("00-a"));
        assert_eq!(get("wiredesk-reason").as_deref(), Some("invalid_json"));
        assert_eq!(get("wiredesk-stage").as_deref(), Some("parse"));
        assert_eq!(get("wiredesk-source").as_deref(), Some("in/2/7"));
        assert_eq!(get("wiredesk-detail").map(|d| d.len()), Some(1024));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é");
    }
}
