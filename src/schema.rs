//! `wiredesk schema`: JSON Schemas of the input article and the output record, generated from the
//! Rust types so they cannot drift from the code.

use crate::article::{Article, Enriched};

pub fn input() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Article)).expect("a schema is valid JSON")
}

pub fn output() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Enriched)).expect("a schema is valid JSON")
}

/// Both schemas in one document: `{"input": …, "output": …}`.
pub fn both() -> serde_json::Value {
    serde_json::json!({ "input": input(), "output": output() })
}
