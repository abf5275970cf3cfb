//! The output contract downstream teams rely on: `schemas/article.input.json` and
//! `schemas/enriched.v1.json` are committed, equal what `wiredesk schema input|output` prints
//! (the schemas generated from the Rust wire types), and every golden record validates against
//! the committed output schema. A change to a wire type therefore shows up as a failing test and
//! then as a reviewed diff of schemas/ (v1 changes are additive only; see README "Input and output").
//!
//! Regenerate after an intended change:
//!   UPDATE_SCHEMAS=1 cargo test --test schema_contract
//! (or `cargo run -- schema input > schemas/article.input.json`, same for `output` →
//! schemas/enriched.v1.json).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// What `wiredesk schema WHICH` prints.
fn printed(which: &str) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_wiredesk"))
        .args(["schema", which])
        .env_remove("WIREDESK_CONFIG")
        .output()
        .expect("run wiredesk schema");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

const FILES: [(&str, &str); 2] = [
    ("input", "schemas/article.input.json"),
    ("output", "schemas/enriched.v1.json"),
];

#[test]
fn committed_schemas_equal_what_the_binary_prints() {
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (which, file) in FILES {
        let path = root().join(file);
        let wanted = printed(which);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &wanted).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed != wanted {
            let committed_json: Option<Value> = serde_json::from_str(&committed).ok();
            let wanted_json: Value = serde_json::from_str(&wanted).unwrap();
            stale.push(format!(
                "{file} differs from `wiredesk schema {which}`{}",
                if committed_json.as_ref() == Some(&wanted_json) {
                    " (formatting only)"
                } else {
                    " (content)"
                }
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nThe wire types changed the published schema. If intended (v1: additive changes only), \
         regenerate with `UPDATE_SCHEMAS=1 cargo test --test schema_contract` and review the diff.",
        stale.join("\n")
    );
}

fn schema(file: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn golden_cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(root().join("tests/data/golden"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every accepted golden input is valid against the committed input schema (aliases, a missing
/// id and a list of authors included), and every golden input the parser refuses for its shape
/// (not an object, a body of the wrong type) is invalid against it.
#[test]
fn golden_inputs_validate_against_the_committed_input_schema() {
    let input = schema("schemas/article.input.json");
    let mut accepted = 0;
    for case in golden_cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(text) = std::fs::read_to_string(case.join("input.json")) else {
            continue;
        };
        let Ok(instance) = serde_json::from_str::<Value>(&text) else {
            continue; // not JSON at all (a truncated feed): nothing to validate
        };
        let expected = read_json(&case.join("expected.json"));
        let problems = errors(&input, &instance);
        if expected.get("rejected").is_some() {
            assert!(
                !problems.is_empty(),
                "{name}: refused by the parser but valid against the schema"
            );
        } else {
            accepted += 1;
            assert!(
                problems.is_empty(),
                "{name}: accepted by the parser but {problems:?}"
            );
        }
    }
    assert!(accepted >= 8, "only {accepted} accepted golden inputs");
}

/// Every golden output record is valid v1 (rejected cases have no record and are only counted).
#[test]
fn golden_records_validate_against_the_committed_schemas() {
    let output = schema("schemas/enriched.v1.json");
    let (mut records, mut rejections) = (0, 0);
    for case in golden_cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let expected = read_json(&case.join("expected.json"));
        if expected.get("rejected").is_some() {
            rejections += 1;
            continue;
        }
        records += 1;
        assert_eq!(expected["schema"], "wiredesk.enriched.v1", "{name}");
        let problems = errors(&output, &expected);
        assert!(
            problems.is_empty(),
            "golden {name}/expected.json is not valid against schemas/enriched.v1.json:\n{}",
            problems.join("\n")
        );
    }
    assert!(records >= 8, "{records} golden records");
    assert!(rejections >= 1, "{rejections} golden rejections");
}

/// The schema is not vacuous: records that break v1 (a missing field, a wrong type) fail it.
#[test]
fn the_output_schema_rejects_broken_records() {
    let output = schema("schemas/enriched.v1.json");
    let case = golden_cases()
        .into_iter()
        .map(|c| read_json(&c.join("expected.json")))
        .find(|e| e.get("rejected").is_none())
        .expect("a golden record");
    let mut missing = case.clone();
    missing.as_object_mut().unwrap().remove("id");
    assert!(
        !errors(&output, &missing).is_empty(),
        "a record without id passes"
    );
    let mut wrong = case.clone();
    wrong["title"] = Value::from(42);
    assert!(
        !errors(&output, &wrong).is_empty(),
        "a numeric title passes"
    );
}

/// Every type the output schema names is declared in `src/article/wire.rs`, the one module of
/// the v1 wire format: a wire type defined in a stage module could be renamed or reshaped there
/// by someone who does not know it is published.
#[test]
fn every_wire_type_lives_in_the_wire_module() {
    let wire = std::fs::read_to_string(root().join("src/article/wire.rs")).unwrap();
    let declared = |name: &str| {
        wire.contains(&format!("pub struct {name} "))
            || wire.contains(&format!("pub struct {name}{{"))
            || wire.contains(&format!("pub enum {name} "))
    };
    let output = read_json(&root().join("schemas/enriched.v1.json"));
    let title = output["title"]
        .as_str()
        .expect("the output schema has a title");
    let mut names: Vec<&str> = vec![title];
    names.extend(
        output["$defs"]
            .as_object()
            .expect("$defs")
            .keys()
            .map(String::as_str),
    );
    // The input schema is titled for readers; its type is `Article` and it has no sub-types.
    names.push("Article");
    let elsewhere: Vec<&str> = names.into_iter().filter(|name| !declared(name)).collect();
    assert!(
        elsewhere.is_empty(),
        "wire types not declared in src/article/wire.rs: {elsewhere:?}"
    );
}
