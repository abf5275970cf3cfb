//! Exactly-once delivery (`delivery.mode = "exactly_once"`) on the real broker and a real Redis:
//! a `read_committed` reader sees each input exactly once in output, duplicates and dead-letter
//! topics together, across a kill -9, an aborted transaction and a fenced instance; dedupe
//! decisions replayed after an abort are the ones first made.
//! Needs `WIREDESK_TEST_BROKERS` (scripts/test) and `redis-server` on PATH.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::redis_server::RedisServer;
use common::*;

/// Worker settings for exactly-once with its own transactional id and a short transaction
/// timeout (a killed instance's open transaction then blocks readers for seconds, not a minute).
fn eos_env(transactional_id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WIREDESK__DELIVERY__MODE", "exactly_once".into()),
        (
            "WIREDESK__DELIVERY__TRANSACTIONAL_ID",
            transactional_id.into(),
        ),
        ("WIREDESK__DELIVERY__TRANSACTION_TIMEOUT_MS", "10000".into()),
        ("WIREDESK__DELIVERY__RETRY_BACKOFF_MS", "100".into()),
        ("WIREDESK__DELIVERY__RETRY_MAX_BACKOFF_MS", "1000".into()),
    ]
}

/// A second article of the same story: what an outlet republishes with small edits.
fn copy_of(n: usize, id: &str) -> serde_json::Value {
    let mut value = distinct_article(id, n);
    let body = value["body"].as_str().unwrap().to_owned();
    value["body"] = format!("{body}\n\nReporting by the wire desk.").into();
    value
}

/// Originals `orig-i` (keyed `k-i`), a copy `copy-i` of every fifth one right after it, and a
/// malformed message every 250: the expectation for each id.
fn corpus(n: usize) -> (Vec<Input>, HashMap<String, &'static str>) {
    let mut inputs = Vec::new();
    let mut expected = HashMap::new();
    for i in 0..n {
        let id = format!("orig-{i:05}");
        inputs.push(Input::json(&format!("k-{i}"), distinct_article(&id, i)));
        expected.insert(id, "unique");
        if i % 5 == 0 {
            let copy = format!("copy-{i:05}");
            inputs.push(Input::json(&format!("k-{i}"), copy_of(i, &copy)));
            expected.insert(copy, "duplicate");
        }
        if i % 250 == 7 {
            let bad = format!("bad-{i:05}");
            inputs.push(Input::raw(&bad, b"{not json"));
            expected.insert(bad, "dead_letter");
        }
    }
    (inputs, expected)
}

/// Every id exactly once, originals unique, copies duplicates *of their original* (a replayed
/// decision after an abort must not make an article a duplicate of itself or of nothing).
fn check(
    seen: &HashMap<String, (&'static str, serde_json::Value)>,
    expected: &HashMap<String, &str>,
) {
    let missing: Vec<&String> = expected
        .keys()
        .filter(|id| !seen.contains_key(*id))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "missing for a read_committed reader: {missing:?}"
    );
    for (id, want) in expected {
        let (role, value) = &seen[id];
        match *want {
            "dead_letter" => assert_eq!(*role, "dead_letter", "{id}"),
            "unique" => {
                assert_eq!(
                    value["dedupe"]["status"], "unique",
                    "{id}: {}",
                    value["dedupe"]
                );
            }
            _ => {
                let original = id.replace("copy-", "orig-");
                assert_eq!(
                    value["dedupe"]["status"], "duplicate",
                    "{id}: {}",
                    value["dedupe"]
                );
                assert_eq!(value["dedupe"]["duplicate_of"], original.as_str(), "{id}");
            }
        }
    }
    assert_eq!(seen.len(), expected.len(), "ids nobody produced");
}

#[test]
fn kill_9_mid_stream_each_input_exactly_once_for_read_committed_readers() {
    let brokers = brokers();
    let redis = RedisServer::start(free_port());
    let topics = Topics::create(&brokers, "eos-kill9", 3, 3);
    let (inputs, expected) = corpus(2500);
    produce(&brokers, &topics.input, &inputs);
    let total = inputs.len();

    let id = unique("eos-kill9-txn");
    let mut env = eos_env(&id);
    env.extend(dedupe_env(&redis, "fail_closed"));
    env.push(("WIREDESK__DEDUPE__ACTION", "tag".into()));
    env.push(("WIREDESK__PROCESSING__MAX_IN_FLIGHT", "64".into()));
    let mut worker = Worker::start(&brokers, &topics, &env);
    wait_until(Duration::from_secs(120), "some committed output", || {
        committed(&brokers, &topics.group, &topics.input)
            .values()
            .sum::<i64>()
            >= 300
    });
    worker.kill9();
    let at_kill: i64 = committed(&brokers, &topics.group, &topics.input)
        .values()
        .sum();
    assert!(
        at_kill < total as i64,
        "the kill must land mid-stream ({at_kill} of {total} committed); raise the count"
    );
    // Uncommitted records of the killed instance exist in the log (aborted later), which is what
    // an at-least-once worker would have left as duplicates.
    let raw_before = topic_len(&brokers, &topics.output);

    // The same transactional id (a StatefulSet pod coming back): it fences the killed instance
    // and aborts its open transaction at once.
    let _restarted = Worker::start(&brokers, &topics, &env);
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(300),
        "the restarted worker to commit every input offset",
    );
    let seen = committed_once(&brokers, &topics);
    check(&seen, &expected);
    eprintln!(
        "exactly-once kill -9: {total} inputs, {at_kill} committed at the kill, output log held {raw_before} offsets then; each id once for read_committed"
    );
}

/// A record the broker refuses for good inside a transaction (over the output topic's
/// `max.message.bytes`) aborts the transaction; the redone messages get the same dedupe
/// decisions (replayed by id from Redis), the refused one goes to the dead-letter topic.
#[test]
fn an_aborted_transaction_is_redone_with_the_same_decisions() {
    let brokers = brokers();
    let redis = RedisServer::start(free_port());
    let topics = Topics {
        input: unique("eos-abort-in"),
        output: unique("eos-abort-out"),
        dead_letter: unique("eos-abort-dlq"),
        duplicates: unique("eos-abort-dup"),
        group: unique("eos-abort-group"),
    };
    create_topic(&brokers, &topics.input, 1);
    create_topic_with_max_bytes(&brokers, &topics.output, 400_000);
    create_topic(&brokers, &topics.dead_letter, 1);
    create_topic(&brokers, &topics.duplicates, 1);

    let (mut inputs, mut expected) = corpus(40);
    // In the middle, an article whose enriched record is over the topic's limit but under
    // wiredesk's own output.max_record_bytes: only the broker can refuse it.
    let big_id = "orig-big";
    let mut big = distinct_article(big_id, 999_999);
    big["body"] = (0..9000)
        .map(|i| format!("Paragraph {i} of a very long report on harbour traffic figures."))
        .collect::<Vec<_>>()
        .join("\n\n")
        .into();
    inputs.insert(20, Input::json(big_id, big)); // a dead letter is known by its key
    expected.insert(big_id.into(), "dead_letter");
    produce(&brokers, &topics.input, &inputs);

    let mut env = eos_env(&unique("eos-abort-txn"));
    env.extend(dedupe_env(&redis, "fail_closed"));
    env.push(("WIREDESK__DEDUPE__ACTION", "route".into()));
    // The broker checks the (compressed) batch: without compression the big record is what
    // it is, and the small ones together stay far below the limit.
    env.push(("WIREDESK__KAFKA__COMPRESSION", "none".into()));
    // One transaction for the whole batch, so the abort takes earlier decisions with it.
    env.push(("WIREDESK__DELIVERY__TRANSACTION_INTERVAL_MS", "3000".into()));
    let mut worker = Worker::start(&brokers, &topics, &env);
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(120),
        "every input offset committed",
    );
    let metrics = worker.http_get("/metrics").expect("metrics").1;
    let aborted = metric(&metrics, "wiredesk_transactions_total{result=\"aborted\"}");
    assert!(
        aborted.is_some_and(|n| n >= 1.0),
        "the refused record must have aborted a transaction: {aborted:?}"
    );
    let seen = committed_once(&brokers, &topics);
    // Route: duplicates are on the duplicates topic, originals on the output topic.
    for (id, (role, _)) in &seen {
        if id.starts_with("copy-") {
            assert_eq!(*role, "duplicates", "{id}");
        }
    }
    let (role, value) = &seen[big_id];
    assert_eq!(*role, "dead_letter");
    assert_eq!(value["reason"], "output_too_large", "{value}");
    check(&seen, &expected);
    assert!(worker.sigterm().success(), "clean exit after the abort");
}

/// Two live instances with one transactional id: the older one is fenced and exits non-zero
/// with a line that says why.
#[test]
fn a_fenced_instance_exits_non_zero_and_says_why() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "eos-fence", 2, 1);
    let inputs: Vec<Input> = (0..200)
        .map(|i| Input::json(&format!("k{i}"), article(&format!("f-{i}"), i)))
        .collect();
    produce(&brokers, &topics.input, &inputs);
    let id = unique("eos-fence-txn");
    let env = eos_env(&id);
    let log = std::env::temp_dir().join(format!("{}.log", unique("fenced")));
    let mut first = worker_command(&topics, free_port());
    first
        .env("WIREDESK__KAFKA__BROKERS", &brokers)
        .env("RUST_LOG", "warn,wiredesk=info")
        .env("WIREDESK__LOG__FORMAT", "pretty")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
    for (key, value) in &env {
        first.env(key, value);
    }
    let mut first = first.spawn().unwrap();
    wait_until(Duration::from_secs(60), "first instance committing", || {
        !committed(&brokers, &topics.group, &topics.input).is_empty()
    });
    let _second = Worker::start(&brokers, &topics, &env);
    // More input so the first instance must use its producer again.
    let more: Vec<Input> = (200..400)
        .map(|i| Input::json(&format!("k{i}"), article(&format!("f-{i}"), i)))
        .collect();
    let feeder = std::thread::spawn({
        let brokers = brokers.clone();
        let input = topics.input.clone();
        move || {
            for chunk in more.chunks(20) {
                produce(&brokers, &input, chunk);
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    });
    let status = wait_exit(&mut first, Duration::from_secs(90));
    feeder.join().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !status.success(),
        "a fenced instance must exit non-zero: {status}"
    );
    assert!(
        text.contains(&format!("transactional.id = {id}")) && text.contains("fenced"),
        "the exit line names the id and says fenced; log {}:\n{}",
        log.display(),
        text.lines().rev().take(8).collect::<Vec<_>>().join("\n")
    );
}

fn wait_exit(child: &mut std::process::Child, timeout: Duration) -> std::process::ExitStatus {
    let mut status = None;
    wait_until(timeout, "the fenced instance to exit", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}
