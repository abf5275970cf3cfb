//! The command-line interface as a user meets it: `enrich` over the samples, `schema`,
//! `check-config`, exit statuses.

use std::process::{Command, Stdio};

fn wiredesk() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wiredesk"));
    command
        .env_remove("WIREDESK_CONFIG")
        .env("RUST_LOG", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

fn output_schema() -> serde_json::Value {
    let out = wiredesk()
        .args(["schema", "output"])
        .output()
        .expect("run schema");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("schema is JSON")
}

#[test]
fn enrich_samples_gives_valid_v1_records_and_reports_the_bad_line() {
    let out = wiredesk()
        .args(["enrich", "samples/articles.jsonl"])
        .output()
        .expect("run enrich");
    assert!(out.status.success(), "exit status {:?}", out.status);
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let stderr = String::from_utf8(out.stderr).expect("UTF-8");
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(records.len(), 14, "14 good samples");
    assert!(
        stderr.contains("samples/articles.jsonl:15: rejected: invalid_json"),
        "{stderr}"
    );
    assert!(
        stderr.contains("15 lines: 14 enriched"),
        "summary line: {stderr}"
    );
    let schema = output_schema();
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    for record in &records {
        assert_eq!(record["schema"], "wiredesk.enriched.v1");
        let errors: Vec<String> = validator
            .iter_errors(record)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", record["id"]);
    }
    // Aliases and pass-through.
    let wind = records
        .iter()
        .find(|r| r["id"] == "sample-005")
        .expect("sample-005");
    assert!(
        wind["title"].as_str().is_some_and(|t| !t.is_empty()),
        "headline alias"
    );
    let ai = records
        .iter()
        .find(|r| r["id"] == "sample-004")
        .expect("sample-004");
    assert!(
        ai["extra"]["keywords"].is_array(),
        "unknown fields pass through"
    );
    // HTML reduced to text.
    let html = records
        .iter()
        .find(|r| r["id"] == "sample-012")
        .expect("sample-012");
    let text = html["text"].as_str().unwrap();
    assert!(
        !text.contains('<') && !text.contains("&amp;") && !text.contains("dataLayer"),
        "{text}"
    );
}

#[test]
fn enrich_writes_dead_letters_to_a_file_and_reads_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let dlq = dir.path().join("dlq.jsonl");
    let mut child = wiredesk()
        .args(["enrich", "--dead-letter"])
        .arg(&dlq)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"{\"id\":\"a\",\"body\":\"Hello from Paris.\"}\n\n[1]\n\xff\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let dead: Vec<serde_json::Value> = std::fs::read_to_string(&dlq)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(dead.len(), 2);
    assert_eq!(dead[0]["reason"], "not_an_object");
    assert_eq!(dead[0]["line"], 3);
    assert_eq!(dead[0]["input"], "[1]");
    assert_eq!(dead[1]["reason"], "not_utf8");
}

#[test]
fn enrich_routes_duplicates_to_their_own_file_and_requires_one() {
    let out = wiredesk()
        .env("WIREDESK__DEDUPE__ACTION", "route")
        .args(["enrich", "samples/articles.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--duplicates"));

    let dir = tempfile::tempdir().unwrap();
    let duplicates = dir.path().join("duplicates.jsonl");
    let tagged = wiredesk()
        .args(["enrich", "--quiet", "samples/articles.jsonl"])
        .output()
        .unwrap();
    let routed = wiredesk()
        .env("WIREDESK__DEDUPE__ACTION", "route")
        .args(["enrich", "--quiet", "--duplicates"])
        .arg(&duplicates)
        .arg("samples/articles.jsonl")
        .output()
        .unwrap();
    assert!(routed.status.success());
    let records = |bytes: &[u8]| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let is_dup = |r: &serde_json::Value| r["dedupe"]["status"] == "duplicate";
    let (tagged, routed_out) = (records(&tagged.stdout), records(&routed.stdout));
    let routed_dups = records(&std::fs::read(&duplicates).unwrap());
    let tagged_dups: Vec<_> = tagged.iter().filter(|r| is_dup(r)).collect();
    assert!(
        !tagged_dups.is_empty(),
        "the samples contain a wire-story repeat"
    );
    assert_eq!(routed_dups.len(), tagged_dups.len());
    assert!(routed_dups.iter().all(is_dup) && !routed_out.iter().any(is_dup));
    assert_eq!(routed_out.len() + routed_dups.len(), tagged.len());
}

#[test]
fn enrich_fails_on_an_unreadable_file() {
    let out = wiredesk()
        .args(["enrich", "no/such/file.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/file.jsonl"));
}

#[test]
fn bad_configuration_is_one_clear_line_naming_the_key() {
    let out = wiredesk()
        .args(["check-config"])
        .env("WIREDESK__TOPICS__OUTPUTS", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("outputs"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    let out = wiredesk()
        .args(["enrich", "samples/articles.jsonl"])
        .env("WIREDESK__INPUT__MAX_MESSAGE_BYTES", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("input.max_message_bytes"));
}

#[test]
fn check_config_prints_effective_values_and_env_overrides() {
    let out = wiredesk()
        .args(["check-config"])
        .env("WIREDESK__KAFKA__BROKERS", "broker-a:9092,broker-b:9092")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: toml::Value = toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("TOML");
    assert_eq!(
        printed["kafka"]["brokers"].as_str(),
        Some("broker-a:9092,broker-b:9092")
    );
    assert_eq!(printed["topics"]["input"].as_str(), Some("raw-articles"));
}

#[test]
fn input_schema_names_the_fields() {
    let out = wiredesk().args(["schema", "input"]).output().unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in [
        "id",
        "title",
        "body",
        "url",
        "source",
        "published_at",
        "language",
        "byline",
    ] {
        assert!(schema["properties"][field].is_object(), "{field}");
    }
}

#[test]
fn user_gazetteer_from_configuration_adds_ids_without_recompiling() {
    let mut child = wiredesk()
        .args(["enrich", "-"])
        .env(
            "WIREDESK__ENTITIES__GAZETTEERS",
            "config/gazetteers/example.tsv",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"{\"id\":\"g\",\"title\":\"Acme shares jump\",\"body\":\"Shares of Acme Widgets rose on Monday. Acme said sales doubled.\"}\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acme = record["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Acme Widgets")
        .expect("user entity found");
    assert_eq!(acme["type"], "organization");
    assert_eq!(acme["ids"]["newsroom"], "O-77");
    assert_eq!(
        acme["mentions"], 3,
        "alias `Acme` resolves to the canonical name: {acme}"
    );
}

/// On a terminal (a pseudo-terminal from `script`, which merges stdout and stderr as a terminal
/// does), every line is a whole record, a rejection or the summary: the rejection waits for the
/// buffered records before it, and no progress bar is drawn over the records.
#[test]
fn enrich_on_a_terminal_never_interleaves_rejections_or_progress_with_records() {
    let command = format!(
        "{} enrich samples/articles.jsonl",
        env!("CARGO_BIN_EXE_wiredesk")
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("WIREDESK_CONFIG")
        .env("RUST_LOG", "warn")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .output()
        .expect("script(1) from bsdutils");
    assert!(out.status.success(), "exit status {:?}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    let mut records = 0;
    for line in text
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.is_empty())
    {
        if serde_json::from_str::<serde_json::Value>(line).is_ok() {
            records += 1;
        } else {
            assert!(
                line.starts_with("samples/articles.jsonl:15: rejected:")
                    || line.starts_with("wiredesk enrich:"),
                "a line that is neither a record, a rejection nor the summary: {line:?}"
            );
        }
    }
    assert_eq!(records, 14, "{text}");
}
