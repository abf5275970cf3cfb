//! Hostile input and faults on the real broker and a real Redis (issue "Nothing a producer sends
//! and no outage stops the group or loses an article"). Each test failed on the code before the
//! fix; the comment on each says how.
//! Needs `WIREDESK_TEST_BROKERS` (scripts/test), `redis-server` and `kcat` on PATH.

mod common;

use std::collections::{HashMap, HashSet};
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::own_broker::OwnBroker;
use common::redis_server::RedisServer;
use common::*;
use rdkafka::ClientConfig;
use rdkafka::message::{Message, OwnedMessage};

fn ids(messages: &[OwnedMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| {
            let v: serde_json::Value = serde_json::from_slice(m.payload()?).ok()?;
            v["id"].as_str().map(str::to_owned)
        })
        .collect()
}

/// Produce one message with a header whose key is not UTF-8, as `kcat -H $'\xff\xfe=v'` does
/// (rdkafka's own API only takes `&str` keys).
fn produce_with_binary_header_key(brokers: &str, topic: &str, key: &str, value: &[u8]) {
    let header = b"\xff\xfe=v";
    let mut child = Command::new("kcat")
        .args(["-P", "-b", brokers, "-t", topic, "-p", "0", "-k", key])
        .arg("-H")
        .arg(std::ffi::OsStr::from_bytes(header))
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat on PATH (scripts/setup installs it)");
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(value).unwrap();
    }
    assert!(child.wait().unwrap().success(), "kcat failed");
}

fn good(id: &str, n: usize) -> Input {
    Input::json(id, article(id, n))
}

/// Every hostile class interleaved with good articles on one partition: the worker stays up,
/// every good article is published, every hostile one is published or dead-lettered with its
/// reason, and the committed offset reaches the end. Before the fix the binary header key
/// panicked the consume loop (exit 101) and the deep HTML aborted it (stack overflow).
#[test]
fn poison_pill_stream_keeps_the_worker_up_and_loses_nothing() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "poison", 1, 1);
    // The input topic must accept a message over input.max_message_bytes (2 MiB).
    let input = unique("poison-big-in");
    create_topic_with_max_bytes(&brokers, &input, 4 << 20);
    let topics = Topics { input, ..topics };

    let big_body =
        "The committee met again on Tuesday and the chairman said the talks would go on. "
            .repeat(14_000);
    let cases: Vec<(&str, Input, Option<&str>)> = vec![
        (
            "deep-div",
            Input::json(
                "deep-div",
                serde_json::json!({"id": "deep-div", "body": format!("{}x{}", "<div>".repeat(20_000), "</div>".repeat(20_000))}),
            ),
            Some("too_complex"),
        ),
        (
            "deep-span",
            Input::json(
                "deep-span",
                serde_json::json!({"id": "deep-span", "body": "<span>".repeat(300_000)}),
            ),
            Some("too_complex"),
        ),
        (
            "dateline-dashes",
            Input::json(
                "dateline-dashes",
                serde_json::json!({"id": "dateline-dashes", "title": "Talks resume", "body": "GENEVA \u{2014}\u{2014} Talks resumed on Monday between the two delegations."}),
            ),
            None,
        ),
        (
            "far-future",
            Input::json(
                "far-future",
                serde_json::json!({"id": "far-future", "body": "An embargoed story with a placeholder date.", "published_at": "9999-12-31T00:00:00Z"}),
            ),
            None,
        ),
        (
            "long-id",
            Input::json(
                "long-id",
                serde_json::json!({"id": "i".repeat(5000), "body": "x"}),
            ),
            Some("invalid_field"),
        ),
        (
            "west-bank",
            Input::json(
                "west-bank",
                serde_json::json!({"id": "west-bank", "body": "west bank ".repeat(180_000)}),
            ),
            None,
        ),
        (
            "output-too-large",
            Input::json(
                "output-too-large",
                serde_json::json!({"id": "output-too-large", "body": big_body}),
            ),
            Some("output_too_large"),
        ),
        (
            "input-too-large",
            Input::raw("input-too-large", &vec![b'{'; 3 << 20]),
            Some("too_large"),
        ),
    ];

    let mut good_ids = Vec::new();
    for (n, (name, case, _)) in cases.iter().enumerate() {
        let id = format!("good-before-{name}");
        produce(&brokers, &topics.input, &[good(&id, n)]);
        good_ids.push(id);
        produce_big(&brokers, &topics.input, case);
    }
    produce_with_binary_header_key(
        &brokers,
        &topics.input,
        "binary-header",
        &serde_json::to_vec(&article("binary-header", 99)).unwrap(),
    );
    produce(&brokers, &topics.input, &[good("good-last", 100)]);
    good_ids.push("good-last".into());
    let total = topic_len(&brokers, &topics.input);

    let mut worker = Worker::start(&brokers, &topics, &[]);
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(180),
        "poison stream committed to the end",
    );
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker exited on hostile input"
    );

    let out = read_all(&brokers, &topics.output);
    let published: HashSet<String> = ids(&out).into_iter().collect();
    for id in &good_ids {
        assert!(
            published.contains(id),
            "good article {id} was not published"
        );
    }
    assert!(
        published.contains("binary-header"),
        "the article with a binary header key was not published"
    );
    let dlq = read_all(&brokers, &topics.dead_letter);
    let reasons: HashMap<String, String> = dlq
        .iter()
        .map(|m| {
            let key = m
                .key()
                .map(|k| String::from_utf8_lossy(k).into_owned())
                .unwrap_or_default();
            (key, header(m, "wiredesk-reason").unwrap_or_default())
        })
        .collect();
    for (name, _, expected) in &cases {
        match expected {
            Some(reason) => assert_eq!(
                reasons.get(*name).map(String::as_str),
                Some(*reason),
                "{name}: expected a dead letter with reason {reason}; dead letters: {reasons:?}"
            ),
            None => assert!(
                published.contains(*name) || reasons.contains_key(*name),
                "{name} was neither published nor dead-lettered"
            ),
        }
    }
    assert!(
        published.contains("dateline-dashes"),
        "a valid article with a doubled dash was lost"
    );
    // A dead letter bigger than the output limit carries a truncated copy, its size and digest.
    let big = dlq
        .iter()
        .find(|m| m.key() == Some(b"input-too-large".as_slice()))
        .expect("input-too-large dead letter");
    assert_eq!(header(big, "wiredesk-truncated").as_deref(), Some("true"));
    assert!(header(big, "wiredesk-original-blake3").is_some());
    assert!(big.payload().map_or(0, <[u8]>::len) < 1_000_000);
    assert_eq!(
        committed(&brokers, &topics.group, &topics.input)
            .get(&0)
            .copied(),
        Some(total)
    );
    assert_eq!(worker.sigterm().code(), Some(0));
}

fn produce_big(brokers: &str, topic: &str, input: &Input) {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("message.max.bytes", (8 << 20).to_string())
        .create()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut record = FutureRecord::<[u8], [u8]>::to(topic).partition(0);
    if let Some(k) = &input.key {
        record = record.key(k);
    }
    if let Some(v) = &input.value {
        record = record.payload(v);
    }
    runtime
        .block_on(producer.send(record, Duration::from_secs(30)))
        .map_err(|(e, _)| e)
        .expect("producing a large test message");
}

/// A worker with its own Redis under `policy` (plus `extra` settings), ready; the Redis port is
/// returned so a test can stop the server and start it again on the same port.
fn worker_on_own_redis(
    brokers: &str,
    topics: &Topics,
    policy: &str,
    extra: &[(&'static str, String)],
) -> (u16, RedisServer, Worker) {
    let port = free_port();
    let redis = RedisServer::start(port);
    let mut env = dedupe_env(&redis, policy);
    env.extend_from_slice(extra);
    let mut worker = Worker::start(brokers, topics, &env);
    worker.wait_ready(Duration::from_secs(60));
    (port, redis, worker)
}

/// SIGTERM while a fail_closed worker waits for Redis, and Redis back during the drain: before
/// the fix the message that was waiting was dropped and the drain stored and committed later
/// offsets of its partition (silent loss). Now nothing at or after it is committed, and a new
/// worker publishes every article.
#[test]
fn sigterm_during_a_fail_closed_outage_loses_nothing() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "termoutage", 1, 1);
    let drain = [("WIREDESK__SHUTDOWN__DRAIN_TIMEOUT_MS", "6000".to_owned())];
    let (port, mut redis, mut worker) =
        worker_on_own_redis(&brokers, &topics, "fail_closed", &drain);

    let first: Vec<Input> = (0..20).map(|i| good(&format!("a{i}"), i)).collect();
    produce(&brokers, &topics.input, &first);
    wait_until(Duration::from_secs(60), "first batch published", || {
        topic_len(&brokers, &topics.output) >= 20
    });
    redis.stop();
    let second: Vec<Input> = (20..60).map(|i| good(&format!("a{i}"), i)).collect();
    produce(&brokers, &topics.input, &second);
    wait_until(
        Duration::from_secs(60),
        "worker paused (readyz 503)",
        || matches!(worker.http_get("/readyz"), Some((503, _))),
    );
    // SIGTERM, then Redis comes back while the worker drains.
    Command::new("kill")
        .args(["-TERM", &worker.child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    let _redis = RedisServer::start(port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while worker.child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "worker did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // Everything below the committed offset must be in the output.
    let committed_at = committed(&brokers, &topics.group, &topics.input)
        .get(&0)
        .copied()
        .unwrap_or(0);
    let published: HashSet<String> = ids(&read_all(&brokers, &topics.output))
        .into_iter()
        .collect();
    for i in 0..committed_at {
        assert!(
            published.contains(&format!("a{i}")),
            "a{i} is below the committed offset {committed_at} but was never published"
        );
    }
    // A new worker finishes the rest.
    let mut env = dedupe_env(&_redis, "fail_closed");
    env.retain(|(k, _)| *k != "WIREDESK__DEDUPE__REDIS__KEY_PREFIX");
    env.push(("WIREDESK__DEDUPE__REDIS__KEY_PREFIX", unique("wd2")));
    let mut again = Worker::start(&brokers, &topics, &env);
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(120),
        "restarted worker committed to the end",
    );
    let published: HashSet<String> = ids(&read_all(&brokers, &topics.output))
        .into_iter()
        .collect();
    for i in 0..60 {
        assert!(published.contains(&format!("a{i}")), "a{i} lost");
    }
    assert_eq!(again.sigterm().code(), Some(0));
}

/// fail_open with Redis stopped: the circuit breaker skips the store, so 2,000 articles are
/// published within seconds. Before the fix every article waited for 3 attempts and 300 ms of
/// back-off (about one article a second: over half an hour for these).
#[test]
fn fail_open_with_redis_stopped_publishes_2000_articles_promptly() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "failopen", 2, 2);
    let (_, mut redis, mut worker) = worker_on_own_redis(&brokers, &topics, "fail_open", &[]);
    redis.stop();
    let inputs: Vec<Input> = (0..2000).map(|i| good(&format!("o{i}"), i)).collect();
    produce(&brokers, &topics.input, &inputs);
    let started = Instant::now();
    wait_until(
        Duration::from_secs(90),
        "2000 articles published with Redis down",
        || topic_len(&brokers, &topics.output) >= 2000,
    );
    eprintln!("2000 articles with Redis down in {:?}", started.elapsed());
    let out = read_all(&brokers, &topics.output);
    let flagged = out
        .iter()
        .filter_map(|m| serde_json::from_slice::<serde_json::Value>(m.payload()?).ok())
        .filter(|v| v["dedupe"]["store_error"] == serde_json::Value::Bool(true))
        .count();
    assert_eq!(
        flagged, 2000,
        "every article passed without the store is flagged store_error"
    );
    let (_, metrics) = worker.http_get("/metrics").expect("metrics");
    assert_eq!(
        metric(&metrics, "wiredesk_dedupe_breaker_open"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(worker.sigterm().code(), Some(0));
}

/// Liveness means "the loop turns": a 200 s fail_closed store outage keeps /healthz at 200
/// (readiness fails instead). Before the fix /healthz failed after 120 s of no progress, so
/// Kubernetes would have restarted every replica at once.
#[test]
fn liveness_stays_up_through_a_200_second_store_outage() {
    let brokers = brokers();
    let topics = Topics::create(&brokers, "liveness", 1, 1);
    let (port, mut redis, mut worker) = worker_on_own_redis(&brokers, &topics, "fail_closed", &[]);
    redis.stop();
    let inputs: Vec<Input> = (0..50).map(|i| good(&format!("l{i}"), i)).collect();
    produce(&brokers, &topics.input, &inputs);
    let started = Instant::now();
    let mut saw_unready = false;
    while started.elapsed() < Duration::from_secs(200) {
        match worker.http_get("/healthz") {
            Some((200, _)) => {}
            other => panic!(
                "liveness failed {:?} into the outage: {other:?}",
                started.elapsed()
            ),
        }
        saw_unready |= matches!(worker.http_get("/readyz"), Some((503, _)));
        std::thread::sleep(Duration::from_secs(5));
    }
    assert!(saw_unready, "readiness should report the store outage");
    let _redis = RedisServer::start(port);
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(120),
        "all committed after the outage",
    );
    assert_eq!(topic_len(&brokers, &topics.output), 50);
    assert_eq!(worker.sigterm().code(), Some(0));
}

/// The broker is killed with kill -9 mid-stream and restarted on the same data: the worker
/// recovers by itself (no restart) and no article is lost. Then a fatal error: with re-sends
/// off and the broker gone, the worker exits non-zero within seconds with one line saying why
/// (before the fix it hung after the error, waiting for a signal).
#[test]
fn broker_killed_and_restarted_loses_nothing_and_a_fatal_error_exits() {
    let broker = OwnBroker::start();
    let brokers = broker.bootstrap.clone();
    let topics = Topics::create(&brokers, "brokerkill", 2, 2);
    let inputs: Vec<Input> = (0..3000).map(|i| good(&format!("b{i}"), i)).collect();
    produce(&brokers, &topics.input, &inputs);
    let mut worker = Worker::start(&brokers, &topics, &[]);
    wait_until(Duration::from_secs(120), "output under way", || {
        topic_len(&brokers, &topics.output) >= 300
    });
    broker.script(&["crash"]);
    std::thread::sleep(Duration::from_secs(5));
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "worker exited while the broker was down"
    );
    assert!(
        matches!(worker.http_get("/healthz"), Some((200, _))),
        "liveness failed during a broker outage"
    );
    broker.script(&["restart"]);
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(180),
        "all committed after the broker restart",
    );
    let published: HashSet<String> = ids(&read_all(&brokers, &topics.output))
        .into_iter()
        .collect();
    for i in 0..3000 {
        assert!(
            published.contains(&format!("b{i}")),
            "b{i} lost across the broker restart"
        );
    }
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker needed a restart"
    );
    assert_eq!(worker.sigterm().code(), Some(0));

    // Fatal: no re-sends, short delivery timeout, broker killed with work in flight.
    let fatal_topics = Topics::create(&brokers, "fatal", 1, 1);
    let more: Vec<Input> = (0..3000).map(|i| good(&format!("f{i}"), i)).collect();
    produce(&brokers, &fatal_topics.input, &more);
    let mut command = worker_command(&fatal_topics, free_port());
    let mut child = command
        .env("WIREDESK__KAFKA__BROKERS", &brokers)
        .env("WIREDESK__DELIVERY__MAX_RESENDS", "0")
        .env("WIREDESK__DELIVERY__MESSAGE_TIMEOUT_MS", "2000")
        .env("WIREDESK__PROCESSING__MAX_IN_FLIGHT", "50")
        .env("RUST_LOG", "warn,wiredesk=info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until(Duration::from_secs(120), "fatal worker under way", || {
        topic_len(&brokers, &fatal_topics.output) >= 10
    });
    broker.script(&["crash"]);
    let crashed = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if crashed.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            let log = std::env::temp_dir()
                .join(unique("fatal-worker"))
                .with_extension("log");
            std::fs::write(&log, stderr.as_bytes()).unwrap();
            panic!(
                "worker did not exit after a fatal error; its log: {}",
                log.display()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        !status.success(),
        "a fatal error must exit non-zero, got {status}"
    );
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        stderr.contains("wiredesk: error:"),
        "no line saying why:\n{stderr}"
    );
}
