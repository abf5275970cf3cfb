//! Per-record errors. A [`Rejection`] is deterministic bad input (or a stage bug): redelivery cannot
//! fix it, so the record goes to the dead-letter topic and the offset advances. Transient
//! infrastructure errors (broker, Redis) are not rejections; they live with the client that raises
//! them and are retried in place. Start-up errors use `anyhow` with context.

use std::fmt;

/// Why a record was rejected. A bounded set: it is a metric label and the `wiredesk-reason`
/// dead-letter header, so it must never carry free text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The message value is not valid UTF-8.
    NotUtf8,
    /// The value is not parseable JSON.
    InvalidJson,
    /// The value is JSON but not an object (array, string, number, null).
    NotAnObject,
    /// A required field (the body) is absent.
    MissingField,
    /// A known field has the wrong JSON type or an unparseable value.
    InvalidField,
    /// The body is present but empty once reduced to text.
    EmptyBody,
    /// The value exceeds `input.max_message_bytes`.
    TooLarge,
    /// The message has no value at all (a tombstone).
    EmptyMessage,
    /// A stage returned an error for this article.
    StageFailed,
    /// A stage panicked on this article; caught so a bug costs one record, not the worker.
    StagePanicked,
    /// Over a work limit: HTML nesting or element count (`input.max_html_*`), or the per-article
    /// CPU budget (`processing.article_budget_ms`).
    TooComplex,
    /// The enriched record is larger than `output.max_record_bytes` or than the broker accepts.
    OutputTooLarge,
    /// The broker refused the enriched record for good (authorization, invalid record, policy).
    OutputRejected,
    /// The dedupe store refused this article's decision with a permanent error (not an outage)
    /// under `on_store_error = "fail_closed"`.
    StoreRejected,
}

impl RejectCode {
    pub const ALL: [RejectCode; 14] = [
        Self::NotUtf8,
        Self::InvalidJson,
        Self::NotAnObject,
        Self::MissingField,
        Self::InvalidField,
        Self::EmptyBody,
        Self::TooLarge,
        Self::EmptyMessage,
        Self::StageFailed,
        Self::StagePanicked,
        Self::TooComplex,
        Self::OutputTooLarge,
        Self::OutputRejected,
        Self::StoreRejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotUtf8 => "not_utf8",
            Self::InvalidJson => "invalid_json",
            Self::NotAnObject => "not_an_object",
            Self::MissingField => "missing_field",
            Self::InvalidField => "invalid_field",
            Self::EmptyBody => "empty_body",
            Self::TooLarge => "too_large",
            Self::EmptyMessage => "empty_message",
            Self::StageFailed => "stage_failed",
            Self::StagePanicked => "stage_panicked",
            Self::TooComplex => "too_complex",
            Self::OutputTooLarge => "output_too_large",
            Self::OutputRejected => "output_rejected",
            Self::StoreRejected => "store_rejected",
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A record that cannot be enriched, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub code: RejectCode,
    /// The stage that refused the record (`parse` for input validation).
    pub stage: &'static str,
    /// Human-readable detail, e.g. which field had which problem.
    pub detail: String,
}

/// Longest [`Rejection::detail`], in bytes. Details can quote input (a bad date, a field name) and
/// end up in logs and headers, so a hostile producer must not be able to make them large.
pub const MAX_DETAIL_BYTES: usize = 1024;

impl Rejection {
    pub fn new(code: RejectCode, detail: impl Into<String>) -> Self {
        let mut detail = detail.into();
        if detail.len() > MAX_DETAIL_BYTES {
            let keep = truncate(&detail, MAX_DETAIL_BYTES - 3).len();
            detail.truncate(keep);
            detail.push_str("...");
        }
        Rejection {
            code,
            stage: "parse",
            detail,
        }
    }

    /// Attribute the rejection to a stage; used by the pipeline so stages need not name themselves.
    pub fn at(mut self, stage: &'static str) -> Self {
        self.stage = stage;
        self
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} in stage {}: {}", self.code, self.stage, self.detail)
    }
}

impl std::error::Error for Rejection {}

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

    #[test]
    fn details_are_bounded_at_a_char_boundary() {
        let r = Rejection::new(RejectCode::InvalidField, "é".repeat(5000));
        assert!(r.detail.len() <= MAX_DETAIL_BYTES && r.detail.ends_with("..."));
        assert_eq!(truncate("ééé", 3), "é");
        assert_eq!(
            Rejection::new(RejectCode::InvalidField, "short").detail,
            "short"
        );
    }
}
