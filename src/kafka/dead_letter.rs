//! Dead-letter records: the original message value, unchanged, under the original key, with the
//! original headers plus `wiredesk-*` headers saying why, where and when. Nothing about a rejected
//! message is lost, so it can be fixed and replayed onto the input topic.
//!
//! One exception keeps that promise honest: a dead letter that would be larger than the output
//! limit (`output.max_record_bytes`; an input may be up to `input.max_message_bytes`) could never
//! be written, and retrying it would stop the partition. It carries instead a truncated copy of
//! the original plus `wiredesk-original-size` and `wiredesk-original-blake3`, so the original can
//! still be found (it is in the input topic until retention) and verified.

use super::sink::{Destination, OutRecord};
use crate::error::{MAX_DETAIL_BYTES, Rejection, truncate};

/// Room kept for the `wiredesk-*` headers added below when fitting a record into the limit.
const OWN_HEADERS_BYTES: usize = 4096;

/// What the dead-letter record needs to know about the source message.
pub struct Source<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<&'a [u8]>,
    pub payload: Option<&'a [u8]>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// The dead letter for `source`, at most `max_bytes` (value + key + headers) long.
pub fn record(
    dead_letter_topic: &str,
    source: Source<'_>,
    rejection: &Rejection,
    max_bytes: usize,
) -> OutRecord {
    let mut headers = source.headers;
    let mut key = source.key.map(<[u8]>::to_vec);
    let mut payload = source.payload.map(<[u8]>::to_vec);
    let size = |key: &Option<Vec<u8>>, payload: &Option<Vec<u8>>, headers: &[(String, Vec<u8>)]| {
        key.as_ref().map_or(0, Vec::len)
            + payload.as_ref().map_or(0, Vec::len)
            + headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    };
    let budget = max_bytes.saturating_sub(OWN_HEADERS_BYTES);
    if size(&key, &payload, &headers) > budget {
        let original = size(&key, &payload, &headers);
        let digest = blake3::hash(source.payload.unwrap_or_default());
        // Keep headers in order while they fit in a quarter of the budget, the key in another
        // quarter, and as much of the value as remains.
        let mut kept = Vec::new();
        let mut used = 0;
        let dropped_headers = headers.len();
        for (k, v) in headers.drain(..) {
            if used + k.len() + v.len() <= budget / 4 {
                used += k.len() + v.len();
                kept.push((k, v));
            }
        }
        let dropped_headers = dropped_headers - kept.len();
        headers = kept;
        if let Some(k) = key.as_mut() {
            k.truncate(budget / 4);
        }
        let room = budget.saturating_sub(size(&key, &None, &headers));
        if let Some(p) = payload.as_mut() {
            p.truncate(room);
        }
        headers.push(("wiredesk-truncated".into(), b"true".to_vec()));
        headers.push((
            "wiredesk-original-size".into(),
            original.to_string().into_bytes(),
        ));
        headers.push((
            "wiredesk-original-blake3".into(),
            digest.to_hex().as_bytes().to_vec(),
        ));
        if dropped_headers > 0 {
            headers.push((
                "wiredesk-headers-dropped".into(),
                dropped_headers.to_string().into_bytes(),
            ));
        }
    }
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
        key,
        payload,
        headers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RejectCode;

    fn header(r: &OutRecord, name: &str) -> Option<String> {
        r.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

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
            1 << 20,
        );
        assert_eq!(r.payload.as_deref(), Some(&b"\xff{"[..]));
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        let get = |name: &str| header(&r, name);
        assert_eq!(get("traceparent").as_deref(), Some("00-a"));
        assert_eq!(get("wiredesk-reason").as_deref(), Some("invalid_json"));
        assert_eq!(get("wiredesk-stage").as_deref(), Some("parse"));
        assert_eq!(get("wiredesk-source").as_deref(), Some("in/2/7"));
        assert_eq!(get("wiredesk-detail").map(|d| d.len()), Some(1024));
        assert_eq!(get("wiredesk-truncated"), None);
    }

    #[test]
    fn a_dead_letter_over_the_limit_carries_a_truncated_copy_with_size_and_digest() {
        let original = vec![b'x'; 3 << 20];
        let rejection = Rejection::new(RejectCode::TooLarge, "3 MiB");
        let headers: Vec<(String, Vec<u8>)> = (0..2000)
            .map(|i| (format!("h{i}"), vec![b'v'; 1000]))
            .collect();
        let r = record(
            "dlq",
            Source {
                topic: "in",
                partition: 0,
                offset: 1,
                key: Some(&[b'k'; 600_000]),
                payload: Some(&original),
                headers,
            },
            &rejection,
            1_000_000,
        );
        let size = r.payload_len()
            + r.key.as_ref().map_or(0, Vec::len)
            + r.headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        assert!(size <= 1_000_000, "{size}");
        let get = |name: &str| header(&r, name);
        assert_eq!(get("wiredesk-truncated").as_deref(), Some("true"));
        assert_eq!(
            get("wiredesk-original-blake3"),
            Some(blake3::hash(&original).to_hex().to_string())
        );
        assert!(
            get("wiredesk-original-size")
                .unwrap()
                .parse::<usize>()
                .unwrap()
                > 3 << 20
        );
        assert!(get("wiredesk-headers-dropped").is_some());
        assert_eq!(get("wiredesk-reason").as_deref(), Some("too_large"));
        assert!(
            r.payload_len() > 100_000,
            "keeps as much of the value as fits"
        );
    }
}
