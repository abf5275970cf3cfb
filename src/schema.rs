//! `wiredesk schema`: JSON Schemas of the input article and the output record. The output schema
//! is generated from the Rust types; the input schema from the parser's own alias lists, so that
//! neither can drift from the code. (The parsed `Article` type is not the input format: the parser
//! accepts aliases, a missing id and a list of authors.)

use serde_json::{Value, json};

use crate::article::Enriched;
use crate::article::parse::{BODY, BYLINE, ID, LANGUAGE, PUBLISHED, SOURCE, TITLE, URL};

/// What `parse` accepts: a JSON object with a body under one of its names, known fields under
/// any of their aliases (the first present alias wins; `null` counts as absent), and any other
/// field, which is passed through to the output's `extra`.
pub fn input() -> Value {
    let mut properties = serde_json::Map::new();
    let mut add = |names: &[&str], schema: Value| {
        for name in names {
            properties.insert((*name).to_owned(), schema.clone());
        }
    };
    add(
        ID,
        json!({
            "description": "Article id (string or number; at most 512 bytes). Without one, an id is derived from the headline and body.",
            "type": ["string", "integer", "number", "null"]
        }),
    );
    add(
        TITLE,
        json!({"description": "Headline, plain text or HTML.", "type": ["string", "null"]}),
    );
    add(
        BODY,
        json!({"description": "Body, plain text or HTML (required, non-empty).", "type": "string", "minLength": 1}),
    );
    add(
        URL,
        json!({"description": "Canonical URL.", "type": ["string", "null"]}),
    );
    add(
        SOURCE,
        json!({"description": "Publishing outlet.", "type": ["string", "null"]}),
    );
    add(
        PUBLISHED,
        json!({
            "description": "Publication time: RFC 3339, or a bare YYYY-MM-DD read as midnight UTC.",
            "type": ["string", "null"],
            "anyOf": [
                {"type": "null"},
                {"format": "date-time"},
                {"pattern": "^\\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\\s*$"}
            ]
        }),
    );
    add(
        LANGUAGE,
        json!({"description": "Language tag such as `en`.", "type": ["string", "null"]}),
    );
    add(
        BYLINE,
        json!({
            "description": "Author line; a list of names is joined with \", \".",
            "type": ["string", "array", "null"],
            "items": {"type": "string"}
        }),
    );
    let body_under_one_name: Vec<Value> = BODY.iter().map(|b| json!({"required": [b]})).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "wiredesk input article",
        "description": "One message value on the input topic. Known fields may use any of their aliases; other fields pass through untouched. Size limit: input.max_message_bytes.",
        "type": "object",
        "properties": properties,
        "anyOf": body_under_one_name,
        "additionalProperties": true
    })
}

pub fn output() -> Value {
    serde_json::to_value(schemars::schema_for!(Enriched)).expect("a schema is valid JSON")
}

/// Both schemas in one document: `{"input": …, "output": …}`.
pub fn both() -> Value {
    json!({ "input": input(), "output": output() })
}
