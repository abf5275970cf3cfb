//! Input validation: bytes → [`Article`]. Every check on input happens here, so a stage can trust
//! what it is given. Fields are read by hand from the JSON object rather than with a derive so that
//! aliases are accepted and each error names the field and the problem.

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde_json::{Map, Value};

use super::Article;
use crate::error::{RejectCode, Rejection};

/// Accepted names for each known field, first match wins. Documented in README ("Input").
pub(crate) const ID: &[&str] = &["id", "article_id", "guid", "uid"];
pub(crate) const TITLE: &[&str] = &["title", "headline"];
pub(crate) const BODY: &[&str] = &["body", "content", "text", "article_body", "html"];
pub(crate) const URL: &[&str] = &["url", "link"];
pub(crate) const SOURCE: &[&str] = &["source", "outlet", "publisher"];
pub(crate) const PUBLISHED: &[&str] = &["published_at", "published", "pub_date", "date"];
pub(crate) const LANGUAGE: &[&str] = &["language", "lang"];
pub(crate) const BYLINE: &[&str] = &["byline", "author", "authors"];

/// Longest accepted article id, in bytes. Ids become Kafka keys, Redis keys and log fields; a
/// megabyte "id" is a producer bug, not an id.
pub const MAX_ID_BYTES: usize = 512;

/// Parse one message value. `max_bytes` is `input.max_message_bytes`.
pub fn parse(bytes: &[u8], max_bytes: usize) -> Result<Article, Rejection> {
    if bytes.len() > max_bytes {
        return Err(Rejection::new(
            RejectCode::TooLarge,
            format!(
                "message is {} bytes, the limit (input.max_message_bytes) is {max_bytes}",
                bytes.len()
            ),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Rejection::new(
            RejectCode::EmptyMessage,
            "message value is empty",
        ));
    }
    let text = std::str::from_utf8(bytes).map_err(|error| {
        Rejection::new(RejectCode::NotUtf8, format!("value is not UTF-8: {error}"))
    })?;
    let value: Value = serde_json::from_str(text).map_err(|error| {
        Rejection::new(RejectCode::InvalidJson, format!("invalid JSON: {error}"))
    })?;
    let Value::Object(mut object) = value else {
        return Err(Rejection::new(
            RejectCode::NotAnObject,
            format!("expected a JSON object, got {}", kind_of(&value)),
        ));
    };

    let id = take_string(&mut object, ID)?;
    let title = take_string(&mut object, TITLE)?;
    let body = take_string(&mut object, BODY)?.ok_or_else(|| {
        Rejection::new(
            RejectCode::MissingField,
            format!("no body: expected one of {}", BODY.join(", ")),
        )
    })?;
    if body.trim().is_empty() {
        return Err(Rejection::new(RejectCode::EmptyBody, "body is empty"));
    }
    let url = take_string(&mut object, URL)?;
    let source = take_string(&mut object, SOURCE)?;
    let published_at = match take_string(&mut object, PUBLISHED)? {
        None => None,
        Some(raw) => Some(parse_time(&raw)?),
    };
    let language = take_string(&mut object, LANGUAGE)?;
    let byline = take_byline(&mut object)?;

    let (id, id_derived) = match id {
        Some(id) if id.len() > MAX_ID_BYTES => {
            return Err(Rejection::new(
                RejectCode::InvalidField,
                format!(
                    "field `id` is {} bytes, the limit is {MAX_ID_BYTES}",
                    id.len()
                ),
            ));
        }
        Some(id) if !id.trim().is_empty() => (id, false),
        _ => (derive_id(title.as_deref(), &body), true),
    };
    Ok(Article {
        id,
        id_derived,
        title: title.filter(|t| !t.trim().is_empty()),
        body,
        url,
        source,
        published_at,
        language,
        byline,
        extra: object,
    })
}

/// A stable id for an article that has none: `wd-` + the first 16 bytes of BLAKE3 over the headline
/// and body with whitespace collapsed, so the same content always gets the same id (which keeps
/// at-least-once replays and dedupe consistent).
pub fn derive_id(title: Option<&str>, body: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    for word in title.unwrap_or_default().split_whitespace() {
        hasher.update(word.as_bytes());
        hasher.update(b" ");
    }
    hasher.update(b"\n");
    for word in body.split_whitespace() {
        hasher.update(word.as_bytes());
        hasher.update(b" ");
    }
    let hash = hasher.finalize();
    let mut id = String::with_capacity(35);
    id.push_str("wd-");
    for byte in &hash.as_bytes()[..16] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Remove the first present alias from `object`. Null counts as absent. Numbers are accepted for
/// ids (many CMSs emit numeric ids); any other non-string is an error naming the field.
fn take_string(
    object: &mut Map<String, Value>,
    names: &[&str],
) -> Result<Option<String>, Rejection> {
    let Some(name) = names.iter().find(|n| object.contains_key(**n)) else {
        return Ok(None);
    };
    match object.remove(*name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Number(n)) if names == ID => Ok(Some(n.to_string())),
        Some(other) => Err(Rejection::new(
            RejectCode::InvalidField,
            format!("field `{name}` must be a string, got {}", kind_of(&other)),
        )),
    }
}

fn take_byline(object: &mut Map<String, Value>) -> Result<Option<String>, Rejection> {
    let Some(name) = BYLINE.iter().find(|n| object.contains_key(**n)) else {
        return Ok(None);
    };
    match object.remove(*name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(Value::Array(items)) => {
            let mut names = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) => names.push(s),
                    other => {
                        return Err(Rejection::new(
                            RejectCode::InvalidField,
                            format!(
                                "field `{name}` must be a string or a list of strings, found {} in the list",
                                kind_of(&other)
                            ),
                        ));
                    }
                }
            }
            Ok(Some(names.join(", ")))
        }
        Some(other) => Err(Rejection::new(
            RejectCode::InvalidField,
            format!(
                "field `{name}` must be a string or a list of strings, got {}",
                kind_of(&other)
            ),
        )),
    }
}

fn parse_time(raw: &str) -> Result<DateTime<FixedOffset>, Rejection> {
    let raw = raw.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t);
    }
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let midnight = date.and_hms_opt(0, 0, 0).expect("midnight is a valid time");
        return Ok(midnight.and_utc().fixed_offset());
    }
    Err(Rejection::new(
        RejectCode::InvalidField,
        format!("field `published_at` is not an RFC 3339 time: {raw:?}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    fn code(input: &[u8]) -> RejectCode {
        parse(input, MAX).expect_err("should be rejected").code
    }

    #[test]
    fn accepts_full_article_and_keeps_unknown_fields() {
        let a = parse(
            br#"{"id":"a1","title":"T","body":"B","url":"u","outlet":"Wire","published_at":"2025-06-10T09:00:00Z","lang":"en","author":["A","B"],"x":{"y":1}}"#,
            MAX,
        )
        .unwrap();
        assert_eq!(a.id, "a1");
        assert!(!a.id_derived);
        assert_eq!(a.title.as_deref(), Some("T"));
        assert_eq!(a.source.as_deref(), Some("Wire"));
        assert_eq!(a.language.as_deref(), Some("en"));
        assert_eq!(a.byline.as_deref(), Some("A, B"));
        assert_eq!(a.published_at.unwrap().timestamp(), 1_749_546_000);
        assert_eq!(a.extra["x"]["y"], 1);
        assert!(!a.extra.contains_key("outlet"));
    }

    #[test]
    fn aliases_for_title_and_body() {
        let a = parse(br#"{"headline":"H","content":"C"}"#, MAX).unwrap();
        assert_eq!(a.title.as_deref(), Some("H"));
        assert_eq!(a.body, "C");
    }

    #[test]
    fn numeric_id_is_accepted() {
        assert_eq!(parse(br#"{"id":42,"body":"x"}"#, MAX).unwrap().id, "42");
        let long = format!(r#"{{"id":"{}","body":"x"}}"#, "i".repeat(MAX_ID_BYTES + 1));
        let err = parse(long.as_bytes(), MAX).unwrap_err();
        assert_eq!(err.code, RejectCode::InvalidField);
        assert!(err.detail.contains("513 bytes") && err.detail.len() < 100);
    }

    #[test]
    fn missing_id_is_derived_stably_and_ignores_whitespace() {
        let a = parse(br#"{"title":"T","body":"one  two"}"#, MAX).unwrap();
        let b = parse(br#"{"title":" T ","body":"one two\n"}"#, MAX).unwrap();
        let c = parse(br#"{"title":"T","body":"one three"}"#, MAX).unwrap();
        assert!(a.id_derived);
        assert!(a.id.starts_with("wd-") && a.id.len() == 35);
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn bare_date_is_midnight_utc() {
        let a = parse(br#"{"body":"x","date":"2006-02-23"}"#, MAX).unwrap();
        assert_eq!(
            a.published_at.unwrap().to_rfc3339(),
            "2006-02-23T00:00:00+00:00"
        );
    }

    #[test]
    fn rejections_have_the_right_code() {
        assert_eq!(code(b"\xff\xfe{}"), RejectCode::NotUtf8);
        assert_eq!(code(b"{\"body\": "), RejectCode::InvalidJson);
        assert_eq!(code(b"[1,2]"), RejectCode::NotAnObject);
        assert_eq!(code(b"\"text\""), RejectCode::NotAnObject);
        assert_eq!(code(br#"{"title":"x"}"#), RejectCode::MissingField);
        assert_eq!(code(br#"{"body":"   "}"#), RejectCode::EmptyBody);
        assert_eq!(code(br#"{"body":5}"#), RejectCode::InvalidField);
        assert_eq!(
            code(br#"{"body":"x","title":["a"]}"#),
            RejectCode::InvalidField
        );
        assert_eq!(
            code(br#"{"body":"x","published_at":"yesterday"}"#),
            RejectCode::InvalidField
        );
        assert_eq!(code(b""), RejectCode::EmptyMessage);
        let big = format!(r#"{{"body":"{}"}}"#, "a".repeat(100));
        assert_eq!(
            parse(big.as_bytes(), 50).unwrap_err().code,
            RejectCode::TooLarge
        );
    }

    #[test]
    fn wrong_type_detail_names_the_field() {
        let r = parse(br#"{"body":"x","url":{"a":1}}"#, MAX).unwrap_err();
        assert!(r.detail.contains("`url`"), "{}", r.detail);
    }
}
