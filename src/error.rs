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
}

impl RejectCode {
    pub const ALL: [RejectCode; 10] = [
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

impl Rejection {
    pub fn new(code: RejectCode, detail: impl Into<String>) -> Self {
        Rejection {
            code,
            stage: "parse",
            detail: detail.into(),
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
