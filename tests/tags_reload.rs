//! Taxonomy changes without recompiling (issue 4): an `extra` taxonomy file extends the built-in
//! one; SIGHUP reloads it in the running worker; a malformed file is refused at start-up with file
//! and position, and on reload it is refused while the old taxonomy stays in force (and counted).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use rdkafka::message::Message;

fn extra(phrase: &str) -> String {
    format!(
        r#"
[[tag]]
id = "newsroom:widgets"
label = "widgets beat"
scheme = "newsroom"
parent = "medtop:04000000"
phrases = [{{ weight = 1.0, terms = ["{phrase}{{,s}}"] }}]
"#
    )
}

fn article(id: &str, word: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "title": format!("Factory doubles {word} output"), "body": format!("The company said demand for its {word}s rose sharply. Each {word} ships to retailers in three countries.")})
}

fn tag_ids(record: &serde_json::Value) -> Vec<String> {
    record["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Send SIGHUP (reload the taxonomy and the topic model) to the worker.
fn hup(worker: &Worker) {
    assert!(
        Command::new("kill")
            .args(["-HUP", &worker.child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
}

/// `wiredesk_taxonomy_reloads_total{result}` as the worker exposes it (-1 when unreadable).
fn reloads(worker: &Worker, result: &str) -> f64 {
    worker
        .http_get("/metrics")
        .and_then(|(_, m)| {
            metric(
                &m,
                &format!("wiredesk_taxonomy_reloads_total{{result=\"{result}\"}}"),
            )
        })
        .unwrap_or(-1.0)
}

/// The first `n` records of the output topic.
fn read(brokers: &str, topic: &str, n: usize) -> Vec<serde_json::Value> {
    consume_until(brokers, topic, Duration::from_secs(60), |m| m.len() >= n)
        .iter()
        .map(|m| serde_json::from_slice(m.payload().unwrap()).unwrap())
        .collect()
}

#[test]
fn sighup_reloads_the_taxonomy_and_refuses_a_bad_one() {
    let brokers = brokers();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("newsroom.toml");
    std::fs::write(&file, extra("frobnicator")).unwrap();
    let topics = Topics::create(&brokers, "reload", 1, 1);
    let mut worker = Worker::start(
        &brokers,
        &topics,
        &[("WIREDESK__TAGS__EXTRA", file.display().to_string())],
    );
    worker.wait_ready(Duration::from_secs(60));
    let read = |n: usize| read(&brokers, &topics.output, n);
    produce(
        &brokers,
        &topics.input,
        &[Input::json("a", article("a", "frobnicator"))],
    );
    assert!(
        tag_ids(&read(1)[0]).contains(&"newsroom:widgets".to_owned()),
        "the extra file's tag fires"
    );

    std::fs::write(&file, extra("gizmotron")).unwrap();
    hup(&worker);
    wait_until(Duration::from_secs(20), "reload ok counted", || {
        reloads(&worker, "ok") == 1.0
    });
    produce(
        &brokers,
        &topics.input,
        &[Input::json("b", article("b", "gizmotron"))],
    );
    let out = read(2);
    assert!(
        tag_ids(&out[1]).contains(&"newsroom:widgets".to_owned()),
        "the reloaded rule fires: {:?}",
        tag_ids(&out[1])
    );

    std::fs::write(
        &file,
        "[[tag]]\nid = \"broken\"\nphrases = [ { weight = 7.0, terms = [] } ]\n",
    )
    .unwrap();
    hup(&worker);
    wait_until(Duration::from_secs(20), "reload error counted", || {
        reloads(&worker, "error") == 1.0
    });
    produce(
        &brokers,
        &topics.input,
        &[Input::json("c", article("c", "gizmotron"))],
    );
    let out = read(3);
    assert!(
        tag_ids(&out[2]).contains(&"newsroom:widgets".to_owned()),
        "the previous taxonomy stays in force"
    );
    assert_eq!(worker.sigterm().code(), Some(0));
}

#[test]
fn malformed_taxonomy_is_refused_at_start_with_file_and_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[[tag]]\nid = \"x\"\nlabel = \"x\"\nscheme = \"s\"\nphrases = [ { weight = 1.0, terms = [\"a\"] }\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wiredesk"))
        .args(["enrich", "-"])
        .env("WIREDESK__TAGS__EXTRA", &file)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml:5:"), "file and line: {stderr}");
}

/// Issue 13: SIGHUP re-reads the topic model file too; its version is in every record's
/// provenance; a corrupt model file is refused and the previous model stays in force.
#[test]
fn sighup_reloads_the_topic_model_and_refuses_a_corrupt_one() {
    use wiredesk::stage::tags::DEFAULT_MODEL;
    use wiredesk::stage::tags::model::TopicModel;

    let brokers = brokers();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("topics.wdtm");
    let with_version = |v: &str| {
        let mut m = TopicModel::from_bytes(DEFAULT_MODEL).unwrap();
        m.version = v.to_owned();
        m.to_bytes()
    };
    std::fs::write(&file, with_version("wiredesk-topics@reload-1")).unwrap();
    let topics = Topics::create(&brokers, "model_reload", 1, 1);
    let mut worker = Worker::start(
        &brokers,
        &topics,
        &[("WIREDESK__TAGS__MODEL", file.display().to_string())],
    );
    worker.wait_ready(Duration::from_secs(60));
    let read = |n: usize| read(&brokers, &topics.output, n);
    let version =
        |r: &serde_json::Value| r["provenance"]["topics_model"].as_str().map(str::to_owned);
    let brief = |id: &str| {
        Input::json(
            id,
            serde_json::json!({"id": id, "title": "Ajax 3 PSV 1", "body": "Brobbey netted twice at the Johan Cruyff Arena on Sunday."}),
        )
    };
    produce(&brokers, &topics.input, &[brief("a")]);
    assert_eq!(
        version(&read(1)[0]).as_deref(),
        Some("wiredesk-topics@reload-1")
    );

    std::fs::write(&file, with_version("wiredesk-topics@reload-2")).unwrap();
    hup(&worker);
    wait_until(Duration::from_secs(20), "reload ok counted", || {
        reloads(&worker, "ok") == 1.0
    });
    produce(&brokers, &topics.input, &[brief("b")]);
    let out = read(2);
    assert_eq!(
        version(&out[1]).as_deref(),
        Some("wiredesk-topics@reload-2")
    );
    assert!(
        out[1]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "medtop:15000000"),
        "the model tags the brief: {}",
        out[1]["tags"]
    );

    let mut bad = with_version("wiredesk-topics@reload-3");
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    std::fs::write(&file, bad).unwrap();
    hup(&worker);
    wait_until(Duration::from_secs(20), "reload error counted", || {
        reloads(&worker, "error") == 1.0
    });
    produce(&brokers, &topics.input, &[brief("c")]);
    assert_eq!(
        version(&read(3)[2]).as_deref(),
        Some("wiredesk-topics@reload-2"),
        "the previous model stays in force"
    );
    assert_eq!(worker.sigterm().code(), Some(0));
}
