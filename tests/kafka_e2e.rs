//! End-to-end tests of the spine on a real Apache Kafka broker (issue 2): the worker binary runs
//! as a child process; inputs are produced and outputs read back with a real client.
//! Needs `WIREDESK_TEST_BROKERS` (set by `scripts/test`); fails with instructions otherwise.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use common::*;
use rdkafka::message::{Message, OwnedMessage};

fn json(message: &OwnedMessage) -> serde_json::Value {
    serde_json::from_slice(message.payload().expect("payload")).expect("output is JSON")
}

fn output_ids(messages: &[OwnedMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| json(m)["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A normal run: every input id appears exactly once in output plus dead-letter, output order per
/// input partition follows input order, headers are right, and offsets are committed to the end.
#[test]
fn normal_run_every_input_once_in_order() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "normal", 3, 1);
    let mut inputs = Vec::new();
    for i in 0..150 {
        let mut input = Input::json(&format!("k{}", i % 7), article(&format!("a-{i:03}"), i));
        if i == 5 {
            input.headers.push((
                "traceparent".into(),
                b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_vec(),
            ));
        }
        inputs.push(input);
    }
    inputs.push(Input::raw("bad", b"{not json"));
    let positions = produce(&brokers, &topics.input, &inputs);

    let mut worker = Worker::start(&brokers, &topics, &[]);
    let out = consume_until(&brokers, &topics.output, Duration::from_secs(90), |m| {
        m.len() >= 150
    });
    let dlq = consume_until(
        &brokers,
        &topics.dead_letter,
        Duration::from_secs(30),
        |m| !m.is_empty(),
    );
    assert_eq!(out.len(), 150, "every valid article is published");
    assert_eq!(dlq.len(), 1);

    // Exactly once each.
    let ids = output_ids(&out);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), 150, "no id twice in a normal run");
    for i in 0..150 {
        assert!(unique.contains(&format!("a-{i:03}")));
    }

    // Order per input partition: provenance offsets increase along the (single-partition) output.
    let mut last: HashMap<i64, i64> = HashMap::new();
    for m in &out {
        let v = json(m);
        let p = v["provenance"]["partition"].as_i64().unwrap();
        let o = v["provenance"]["offset"].as_i64().unwrap();
        if let Some(prev) = last.insert(p, o) {
            assert!(o > prev, "partition {p}: offset {o} after {prev}");
        }
    }
    // The provenance points at the real input position.
    let by_id: HashMap<String, (i32, i64)> = (0..150)
        .map(|i| (format!("a-{i:03}"), positions[i]))
        .collect();
    for m in &out {
        let v = json(m);
        let (p, o) = by_id[v["id"].as_str().unwrap()];
        assert_eq!(
            (
                v["provenance"]["partition"].as_i64().unwrap(),
                v["provenance"]["offset"].as_i64().unwrap()
            ),
            (p as i64, o)
        );
        assert_eq!(v["schema"], "wiredesk.enriched.v1");
        assert_eq!(
            m.key(),
            Some(v["id"].as_str().unwrap().as_bytes()),
            "keyed by article id"
        );
        assert_eq!(
            header(m, "content-type").as_deref(),
            Some("application/json")
        );
        assert_eq!(
            header(m, "wiredesk-schema").as_deref(),
            Some("wiredesk.enriched.v1")
        );
    }
    let traced = out.iter().find(|m| json(m)["id"] == "a-005").unwrap();
    assert_eq!(
        header(traced, "traceparent").as_deref(),
        Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    );

    // Offsets are committed up to the end of every partition (incl. the poison message).
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(30),
        "offsets committed to the end",
    );

    // Metrics agree with what was sent.
    let (status, metrics) = worker.http_get("/metrics").expect("metrics answer");
    assert_eq!(status, 200);
    assert!(
        metrics.contains(&format!(
            "wiredesk_messages_consumed_total{{topic=\"{}\"}} 151",
            topics.input
        )),
        "{metrics}"
    );
    assert!(metrics.contains("wiredesk_messages_dead_lettered_total{reason=\"invalid_json\"} 1"));
    assert!(metrics.contains("wiredesk_messages_produced_total{destination=\"output\"} 150"));
    assert_eq!(worker.sigterm().code(), Some(0));
}

/// Every malformed kind lands in the dead-letter topic with its reason, the original bytes and
/// headers, and the committed offset moves past it.
#[test]
fn malformed_input_goes_to_dead_letter_with_reason() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "poison", 1, 1);
    let big = format!(r#"{{"id":"big","body":"{}"}}"#, "x".repeat(5000));
    let mut with_header = Input::raw("h", b"[1,2,3]");
    with_header
        .headers
        .push(("origin".into(), b"feed-7".to_vec()));
    let cases: Vec<(Input, &str)> = vec![
        (Input::raw("u", b"\xff\xfe\x00 not utf8"), "not_utf8"),
        (Input::raw("j", b"{\"id\": \"x\", "), "invalid_json"),
        (with_header, "not_an_object"),
        (
            Input::raw("m", br#"{"id":"m","title":"no body"}"#),
            "missing_field",
        ),
        (Input::raw("e", br#"{"id":"e","body":"   "}"#), "empty_body"),
        (Input::raw("t", br#"{"id":"t","body":42}"#), "invalid_field"),
        (
            Input::raw(
                "d",
                br#"{"id":"d","body":"x","published_at":"last tuesday"}"#,
            ),
            "invalid_field",
        ),
        (Input::raw("b", big.as_bytes()), "too_large"),
        (
            Input {
                key: Some(b"tomb".to_vec()),
                value: None,
                headers: vec![],
                partition: None,
            },
            "empty_message",
        ),
        (
            Input::raw("s", br#"{"id":"s","body":"<script>alert(1)</script>"}"#),
            "empty_body",
        ),
    ];
    let mut inputs: Vec<Input> = cases.iter().map(|(i, _)| i.clone()).collect();
    inputs.push(Input::json("ok", article("good-after-poison", 1)));
    produce(&brokers, &topics.input, &inputs);

    let _worker = Worker::start(
        &brokers,
        &topics,
        &[("WIREDESK__INPUT__MAX_MESSAGE_BYTES", "4096".into())],
    );
    let out = consume_until(&brokers, &topics.output, Duration::from_secs(90), |m| {
        !m.is_empty()
    });
    assert_eq!(
        output_ids(&out),
        ["good-after-poison"],
        "the worker keeps going after poison"
    );
    let dlq = consume_until(
        &brokers,
        &topics.dead_letter,
        Duration::from_secs(30),
        |m| m.len() >= cases.len(),
    );
    assert_eq!(dlq.len(), cases.len());
    for (message, (input, reason)) in dlq.iter().zip(&cases) {
        assert_eq!(header(message, "wiredesk-reason").as_deref(), Some(*reason));
        assert_eq!(
            message.payload().map(<[u8]>::to_vec),
            input.value,
            "original bytes kept"
        );
        assert_eq!(
            message.key().map(<[u8]>::to_vec),
            input.key,
            "original key kept"
        );
        assert!(header(message, "wiredesk-stage").is_some());
        assert!(
            !header(message, "wiredesk-detail")
                .unwrap_or_default()
                .is_empty()
        );
        assert!(
            header(message, "wiredesk-source")
                .unwrap()
                .starts_with(&format!("{}/0/", topics.input))
        );
        assert!(header(message, "wiredesk-time").is_some());
    }
    assert_eq!(
        header(&dlq[2], "origin").as_deref(),
        Some("feed-7"),
        "original headers kept"
    );
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(30),
        "offset committed past the poison",
    );
}

/// `kill -9` in the middle of a stream, then a restart: nothing is lost (duplicates allowed).
#[test]
fn kill_9_mid_stream_then_restart_loses_nothing() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "kill9", 3, 3);
    let n = 3000;
    let inputs: Vec<Input> = (0..n)
        .map(|i| Input::json(&format!("k{i}"), article(&format!("id-{i:05}"), i)))
        .collect();
    produce(&brokers, &topics.input, &inputs);

    let mut worker = Worker::start(
        &brokers,
        &topics,
        &[("WIREDESK__PROCESSING__MAX_IN_FLIGHT", "64".into())],
    );
    // Kill once some, but not all, output exists.
    wait_until(Duration::from_secs(90), "first outputs", || {
        topic_len(&brokers, &topics.output) >= 300
    });
    worker.kill9();
    let before = topic_len(&brokers, &topics.output);
    assert!(
        before < n as i64,
        "the kill must land mid-stream (got {before} of {n} already); raise n"
    );

    let _restarted = Worker::start(&brokers, &topics, &[]);
    let expected: HashSet<String> = (0..n).map(|i| format!("id-{i:05}")).collect();
    // Wait until the restarted worker has committed every input offset, then read everything that
    // was published: an id missing after that is a loss, not slowness.
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(300),
        "the restarted worker to commit every input offset",
    );
    let out = read_all(&brokers, &topics.output);
    let seen: HashSet<String> = output_ids(&out).into_iter().collect();
    let missing: Vec<&String> = expected.difference(&seen).take(10).collect();
    assert!(
        missing.is_empty(),
        "lost after kill -9: {missing:?} (and maybe more)"
    );
    eprintln!(
        "kill -9 test: {} outputs for {n} inputs ({} duplicates), {before} existed at the kill",
        out.len(),
        out.len() - n
    );
}

/// SIGTERM mid-stream drains in-flight work, commits, and exits 0; a restart then re-emits nothing.
#[test]
fn sigterm_drains_commits_and_restart_reemits_nothing() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "sigterm", 2, 1);
    let n = 2000;
    let inputs: Vec<Input> = (0..n)
        .map(|i| Input::json(&format!("k{i}"), article(&format!("s-{i:05}"), i)))
        .collect();
    produce(&brokers, &topics.input, &inputs);

    let mut worker = Worker::start(
        &brokers,
        &topics,
        &[("WIREDESK__PROCESSING__MAX_IN_FLIGHT", "128".into())],
    );
    wait_until(Duration::from_secs(90), "first outputs", || {
        topic_len(&brokers, &topics.output) >= 200
    });
    let status = worker.sigterm();
    assert_eq!(status.code(), Some(0), "clean exit after drain");

    // Everything committed was published, and everything published was committed.
    let committed_now = committed(&brokers, &topics.group, &topics.input);
    let out = read_all(&brokers, &topics.output);
    let mut per_partition: BTreeMap<i64, HashSet<i64>> = BTreeMap::new();
    for m in &out {
        let v = json(m);
        per_partition
            .entry(v["provenance"]["partition"].as_i64().unwrap())
            .or_default()
            .insert(v["provenance"]["offset"].as_i64().unwrap());
    }
    for (partition, offsets) in &per_partition {
        let next = committed_now
            .get(&(*partition as i32))
            .copied()
            .unwrap_or(0);
        assert_eq!(
            offsets.len() as i64,
            next,
            "partition {partition}: outputs vs committed offset"
        );
        assert_eq!(
            offsets.iter().max().copied().unwrap_or(-1) + 1,
            next,
            "partition {partition}: contiguous"
        );
    }

    // Restart, add a sentinel, and wait for all: no input may be emitted twice.
    let _restarted = Worker::start(&brokers, &topics, &[]);
    let mut sentinel = Input::json("sentinel", article("sentinel", 0));
    sentinel.partition = Some(0);
    produce(&brokers, &topics.input, &[sentinel]);
    let out = consume_until(&brokers, &topics.output, Duration::from_secs(120), |m| {
        m.len() > n
    });
    let ids = output_ids(&out);
    assert_eq!(ids.len(), n + 1);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(
        unique.len(),
        n + 1,
        "a restart after SIGTERM re-emitted records"
    );
}

/// `/healthz` and `/readyz` answer with Kubernetes-friendly codes.
#[test]
fn health_endpoints_report_readiness() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "health", 1, 1);
    let mut worker = Worker::start(&brokers, &topics, &[]);
    worker.wait_ready(Duration::from_secs(60));
    assert_eq!(worker.http_get("/healthz").map(|r| r.0), Some(200));
    let (status, body) = worker.http_get("/metrics").unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        metric(&body, "wiredesk_assigned_partitions"),
        Some(1.0),
        "{body}"
    );
}

/// A missing topic is a configuration error: the worker exits 1 and names the key and topic.
#[test]
fn missing_topic_stops_with_a_clear_error() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "missing", 1, 1);
    let missing = unique("does-not-exist");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wiredesk"))
        .arg("run")
        .env_remove("WIREDESK_CONFIG")
        .env("WIREDESK__KAFKA__BROKERS", &brokers)
        .env("WIREDESK__TOPICS__INPUT", &topics.input)
        .env("WIREDESK__TOPICS__OUTPUT", &missing)
        .env("WIREDESK__TOPICS__DEAD_LETTER", &topics.dead_letter)
        .env(
            "WIREDESK__HTTP__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("RUST_LOG", "off")
        .output()
        .expect("run wiredesk");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("topics.output") && stderr.contains(&missing),
        "{stderr}"
    );
}

/// A second replica joins mid-stream and the first later leaves: the rebalances neither lose work
/// nor commit work of revoked partitions that was not published (duplicates allowed).
#[test]
fn rebalance_mid_stream_loses_nothing() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "rebalance", 4, 2);
    let n = 3000;
    let inputs: Vec<Input> = (0..n)
        .map(|i| Input::json(&format!("k{i}"), article(&format!("r-{i:05}"), i)))
        .collect();
    produce(&brokers, &topics.input, &inputs);
    let mut first = Worker::start(
        &brokers,
        &topics,
        &[("WIREDESK__PROCESSING__MAX_IN_FLIGHT", "64".into())],
    );
    wait_until(Duration::from_secs(90), "first outputs", || {
        topic_len(&brokers, &topics.output) >= 200
    });
    let _second = Worker::start(
        &brokers,
        &topics,
        &[("WIREDESK__PROCESSING__MAX_IN_FLIGHT", "64".into())],
    );
    wait_until(
        Duration::from_secs(90),
        "more outputs after the join",
        || topic_len(&brokers, &topics.output) >= 1200,
    );
    assert_eq!(
        first.sigterm().code(),
        Some(0),
        "the first replica leaves cleanly"
    );
    let expected: std::collections::HashSet<String> = (0..n).map(|i| format!("r-{i:05}")).collect();
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(300),
        "the remaining replica to commit every input offset",
    );
    let out = read_all(&brokers, &topics.output);
    let seen: HashSet<String> = output_ids(&out).into_iter().collect();
    assert_eq!(
        seen.len(),
        n,
        "lost across rebalances: {:?}",
        expected.difference(&seen).take(10).collect::<Vec<_>>()
    );
}
