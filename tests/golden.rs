//! Golden tests: `tests/data/golden/<case>/input.json` through the default pipeline must give
//! `expected.json` exactly (rejections too, as `{"rejected": {"stage", "code"}}`).
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites the expected files; review their diff like code.
//! How the cases were made: tests/data/golden/README.md.

use std::path::Path;

use wiredesk::article::Provenance;
use wiredesk::settings::Settings;

#[test]
fn golden_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/golden");
    let settings = Settings::default();
    let pipeline = wiredesk::stage::build(&settings, None).expect("default pipeline builds");
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/data/golden exists")
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    cases.sort_by_key(|e| e.file_name());
    assert!(
        cases.len() >= 5,
        "expected golden cases in {}",
        root.display()
    );
    let mut failures = Vec::new();
    for case in cases {
        let dir = case.path();
        let input = std::fs::read(dir.join("input.json")).expect("input.json");
        let provenance = Provenance {
            file: Some("golden".into()),
            line: Some(1),
            processed_at: "2026-01-01T00:00:00.000Z".into(),
            wiredesk_version: "test".into(),
            ..Provenance::default()
        };
        let actual = match pipeline.process(&input, provenance) {
            Ok(processed) => serde_json::to_value(&processed.doc).expect("serializes"),
            Err(rejection) => {
                serde_json::json!({"rejected": {"stage": rejection.stage, "code": rejection.code.as_str()}})
            }
        };
        let actual = serde_json::to_string_pretty(&actual).expect("pretty") + "\n";
        let expected_path = dir.join("expected.json");
        if update {
            std::fs::write(&expected_path, &actual).expect("write expected.json");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != actual {
            eprintln!("golden case {} differs:", dir.display());
            similar_asserts::assert_eq!(expected, actual, "case {}", dir.display());
            failures.push(dir);
        }
    }
    assert!(
        failures.is_empty(),
        "golden cases differ: {failures:?} (UPDATE_GOLDEN=1 to accept)"
    );
}
