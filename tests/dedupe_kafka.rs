//! Dedupe on the real broker with a real Redis (issue 5): two worker processes in one consumer
//! group share the Redis store; a Redis outage mid-stream under both failure policies.
//! Needs `WIREDESK_TEST_BROKERS` (scripts/test) and `redis-server` on PATH.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::redis_server::RedisServer;
use common::*;
use rdkafka::message::{Message, OwnedMessage};

/// Real article bodies (Wikinews, CC BY 2.5) to build stories from.
fn wikinews() -> Vec<serde_json::Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/gum-news/articles.jsonl"
    );
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A republication: new id, outlet and headline, an added credit line, a trimmed last paragraph.
fn republish(article: &serde_json::Value, id: &str, outlet: &str) -> serde_json::Value {
    let body = article["body"].as_str().unwrap();
    let mut paragraphs: Vec<&str> = body.split("\n\n").collect();
    if paragraphs.len() > 3 {
        paragraphs.pop();
    }
    let body = format!(
        "{}\n\n(Reporting by Staff; Editing by Desk)",
        paragraphs.join("\n\n")
    );
    serde_json::json!({"id": id, "title": format!("{} | {outlet}", article["title"].as_str().unwrap()), "body": body, "source": outlet, "published_at": "2026-06-01T10:00:00Z"})
}

fn parsed(messages: &[OwnedMessage]) -> Vec<serde_json::Value> {
    messages
        .iter()
        .map(|m| serde_json::from_slice(m.payload().unwrap()).unwrap())
        .collect()
}

/// Two replicas, one group, 4 partitions, one Redis: the same story sent through every partition
/// gives exactly one unique and three duplicates of it; other stories stay unique; nothing is lost.
#[test]
fn two_replicas_share_redis_one_unique_per_story() {
    let brokers = brokers();
    let redis = RedisServer::start(free_port());
    let topics = Topics::create(&brokers, "replicas", 4, 2);
    let env = dedupe_env(&redis, "fail_open");
    let mut a = Worker::start(&brokers, &topics, &env);
    let mut b = Worker::start(&brokers, &topics, &env);
    a.wait_ready(Duration::from_secs(60));
    b.wait_ready(Duration::from_secs(60));
    // Both replicas own partitions before the stream starts.
    wait_until(
        Duration::from_secs(60),
        "partitions spread over both replicas",
        || {
            let owned = |w: &Worker| {
                w.http_get("/metrics")
                    .map(|(_, m)| metric(&m, "wiredesk_assigned_partitions") == Some(2.0))
                    .unwrap_or(false)
            };
            owned(&a) && owned(&b)
        },
    );

    let articles = wikinews();
    let mut inputs = Vec::new();
    for (story, article) in articles.iter().take(6).enumerate() {
        for partition in 0..4 {
            let mut input = Input::json(
                &format!("s{story}-p{partition}"),
                republish(
                    article,
                    &format!("story{story}-copy{partition}"),
                    &format!("Outlet {partition}"),
                ),
            );
            input.partition = Some(partition);
            inputs.push(input);
        }
    }
    for (i, article) in articles.iter().enumerate().skip(6) {
        let mut input = Input::json(
            &format!("u{i}"),
            republish(article, &format!("solo-{i}"), "Solo"),
        );
        input.partition = Some((i % 4) as i32);
        inputs.push(input);
    }
    produce(&brokers, &topics.input, &inputs);
    let expected = inputs.len();
    let out = parsed(&consume_until(
        &brokers,
        &topics.output,
        Duration::from_secs(120),
        |m| m.len() >= expected,
    ));
    assert_eq!(
        out.len(),
        expected,
        "nothing lost (action = tag publishes duplicates too)"
    );
    let mut by_story: HashMap<String, Vec<&serde_json::Value>> = HashMap::new();
    for record in &out {
        let id = record["id"].as_str().unwrap();
        let story = id.split("-copy").next().unwrap().to_owned();
        by_story.entry(story).or_default().push(record);
    }
    for story in 0..6 {
        let copies = &by_story[&format!("story{story}")];
        assert_eq!(copies.len(), 4);
        let uniques: Vec<_> = copies
            .iter()
            .filter(|r| r["dedupe"]["status"] == "unique")
            .collect();
        assert_eq!(
            uniques.len(),
            1,
            "story {story}: exactly one unique, got {copies:#?}"
        );
        let canonical = uniques[0]["id"].as_str().unwrap();
        for copy in copies
            .iter()
            .filter(|r| r["dedupe"]["status"] == "duplicate")
        {
            assert_eq!(copy["dedupe"]["cluster_id"], canonical);
        }
    }
    for record in out
        .iter()
        .filter(|r| r["id"].as_str().unwrap().starts_with("solo-"))
    {
        assert_eq!(record["dedupe"]["status"], "unique", "{}", record["id"]);
    }
    // Both replicas did work.
    for worker in [&a, &b] {
        let (_, metrics) = worker.http_get("/metrics").unwrap();
        assert!(
            !metrics.contains("wiredesk_messages_produced_total{destination=\"output\"} 0"),
            "one replica idle"
        );
    }
}

/// Redis stops mid-stream. fail_open: articles keep flowing, flagged `store_error`, counted.
/// fail_closed: consumption pauses (nothing published, `consumption_paused` = 1) until Redis is
/// back, then everything is published. Nothing is lost under either policy.
#[test]
fn redis_outage_mid_stream_under_both_policies() {
    let brokers = brokers();
    let articles = wikinews();
    for policy in policies() {
        let port = free_port();
        let mut redis = RedisServer::start(port);
        let topics = Topics::create(&brokers, &format!("outage-{policy}"), 1, 1);
        let mut worker = Worker::start(&brokers, &topics, &dedupe_env(&redis, policy));
        worker.wait_ready(Duration::from_secs(60));

        let first: Vec<Input> = (0..5)
            .map(|i| Input::json("k", republish(&articles[i], &format!("before-{i}"), "A")))
            .collect();
        produce(&brokers, &topics.input, &first);
        consume_until(&brokers, &topics.output, Duration::from_secs(60), |m| {
            m.len() >= 5
        });

        redis.stop();
        let second: Vec<Input> = (5..10)
            .map(|i| Input::json("k", republish(&articles[i], &format!("during-{i}"), "A")))
            .collect();
        produce(&brokers, &topics.input, &second);
        if policy == "fail_open" {
            let out = parsed(&consume_until(
                &brokers,
                &topics.output,
                Duration::from_secs(60),
                |m| m.len() >= 10,
            ));
            assert_eq!(out.len(), 10);
            for record in &out[5..] {
                assert_eq!(record["dedupe"]["status"], "unique");
                assert_eq!(
                    record["dedupe"]["store_error"], true,
                    "flagged while Redis is down"
                );
            }
            let (_, metrics) = worker.http_get("/metrics").unwrap();
            assert_eq!(
                metric(
                    &metrics,
                    "wiredesk_dedupe_store_errors_total{outcome=\"fail_open\"}"
                ),
                Some(5.0),
                "{metrics}"
            );
        } else {
            wait_until(Duration::from_secs(30), "consumption paused", || {
                worker
                    .http_get("/metrics")
                    .map(|(_, m)| metric(&m, "wiredesk_consumption_paused") == Some(1.0))
                    .unwrap_or(false)
            });
            assert_eq!(
                topic_len(&brokers, &topics.output),
                5,
                "nothing published while Redis is down"
            );
            let ready = worker.http_get("/readyz");
            assert_eq!(
                ready.as_ref().map(|r| r.0),
                Some(503),
                "not ready while the store is down: {ready:?}"
            );
            redis = RedisServer::start(port);
            let out = parsed(&consume_until(
                &brokers,
                &topics.output,
                Duration::from_secs(90),
                |m| m.len() >= 10,
            ));
            let ids: HashSet<&str> = out.iter().map(|r| r["id"].as_str().unwrap()).collect();
            assert_eq!(ids.len(), 10, "everything published once Redis is back");
            assert!(
                out.iter().all(|r| r["dedupe"]["store_error"].is_null()),
                "no article passed unchecked"
            );
            wait_until(Duration::from_secs(30), "consumption resumed", || {
                worker
                    .http_get("/metrics")
                    .map(|(_, m)| metric(&m, "wiredesk_consumption_paused") == Some(0.0))
                    .unwrap_or(false)
            });
        }
        assert_eq!(worker.sigterm().code(), Some(0));
        drop(redis);
    }
}

fn policies() -> Vec<&'static str> {
    match std::env::var("DEDUPE_POLICY").ok().as_deref() {
        Some("fail_open") => vec!["fail_open"],
        Some("fail_closed") => vec!["fail_closed"],
        _ => vec!["fail_open", "fail_closed"],
    }
}

/// `dedupe.action`: `route` sends duplicates to `topics.duplicates`, `drop` publishes nothing for
/// them; either way the offsets are committed past them. A redelivered id is not its own duplicate.
#[test]
fn duplicate_actions_route_and_drop() {
    let brokers = brokers();
    let articles = wikinews();
    for action in ["route", "drop"] {
        let topics = Topics::create(&brokers, &format!("action-{action}"), 1, 1);
        let _worker = Worker::start(
            &brokers,
            &topics,
            &[("WIREDESK__DEDUPE__ACTION", action.into())],
        );
        let original = republish(&articles[3], "orig", "A");
        let inputs = vec![
            Input::json("1", original.clone()),
            Input::json("2", republish(&articles[3], "copy", "B")),
            Input::json("3", republish(&articles[4], "other", "C")),
            // The same id again (a replay): the same decision, not a duplicate of itself.
            Input::json("1", original),
        ];
        produce(&brokers, &topics.input, &inputs);
        wait_all_committed(
            &brokers,
            &topics.group,
            &topics.input,
            Duration::from_secs(60),
            "all offsets committed",
        );
        let out = parsed(&read_all(&brokers, &topics.output));
        let ids: Vec<&str> = out.iter().map(|r| r["id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["orig", "other", "orig"], "{action}");
        assert!(
            out.iter().all(|r| r["dedupe"]["status"] == "unique"),
            "a replayed id stays unique"
        );
        let dups = parsed(&read_all(&brokers, &topics.duplicates));
        if action == "route" {
            assert_eq!(dups.len(), 1);
            assert_eq!(dups[0]["id"], "copy");
            assert_eq!(dups[0]["dedupe"]["duplicate_of"], "orig");
        } else {
            assert!(dups.is_empty());
        }
        // `enrich` on the same articles under the same action makes the same records, apart
        // from provenance: one outcome layer decides for both modes.
        let (enriched, routed) = enrich_with_action(&inputs, action);
        assert_eq!(
            without_provenance(&enriched),
            without_provenance(&out),
            "{action}: output"
        );
        assert_eq!(
            without_provenance(&routed),
            without_provenance(&dups),
            "{action}: duplicates"
        );
    }
}

/// Run `wiredesk enrich` over `inputs` (as a JSON-lines file) with `dedupe.action = action`;
/// returns the records on stdout and those written to `--duplicates`.
fn enrich_with_action(
    inputs: &[Input],
    action: &str,
) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("in.jsonl");
    let duplicates = dir.path().join("duplicates.jsonl");
    let lines: Vec<String> = inputs
        .iter()
        .map(|i| String::from_utf8(i.value.clone().unwrap()).unwrap())
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wiredesk"))
        .env_remove("WIREDESK_CONFIG")
        .env("WIREDESK__DEDUPE__ACTION", action)
        .arg("enrich")
        .arg("--quiet")
        .arg("--duplicates")
        .arg(&duplicates)
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parse = |text: &str| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let routed = std::fs::read_to_string(&duplicates).unwrap_or_default();
    (
        parse(&String::from_utf8(out.stdout).unwrap()),
        parse(&routed),
    )
}

fn without_provenance(records: &[serde_json::Value]) -> Vec<serde_json::Value> {
    records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("provenance");
            r
        })
        .collect()
}

/// Store decisions are requested a window at a time (issue 11), yet in input order: with a
/// backlog on one partition, each story's copy right after its original is its duplicate, and
/// the original stays unique, as with one call at a time.
#[test]
fn windowed_redis_decisions_keep_input_order() {
    let brokers = brokers();
    let redis = RedisServer::start(free_port());
    let topics = Topics::create(&brokers, "window", 1, 1);
    let articles = wikinews();
    let mut inputs = Vec::new();
    for (story, article) in articles.iter().take(12).enumerate() {
        for copy in 0..3 {
            let id = format!("s{story}-c{copy}");
            inputs.push(Input::json(
                &id,
                republish(article, &id, &format!("Outlet {copy}")),
            ));
        }
    }
    // The backlog is there before the worker starts, so its windows are full.
    produce(&brokers, &topics.input, &inputs);
    let _worker = Worker::start(&brokers, &topics, &dedupe_env(&redis, "fail_closed"));
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(90),
        "all offsets committed",
    );
    let out = parsed(&read_all(&brokers, &topics.output));
    assert_eq!(out.len(), inputs.len());
    for record in &out {
        let id = record["id"].as_str().unwrap();
        let (story, copy) = id.split_once("-c").unwrap();
        if copy == "0" {
            assert_eq!(record["dedupe"]["status"], "unique", "{id}");
        } else {
            assert_eq!(record["dedupe"]["status"], "duplicate", "{id}");
            assert_eq!(
                record["dedupe"]["duplicate_of"],
                format!("{story}-c0"),
                "{id}"
            );
        }
    }
}

/// SIGTERM while Redis is down under `fail_closed`: the worker gives up waiting at the end of the
/// drain grace period, exits 0, and commits nothing it did not publish (the rest is redelivered).
#[test]
fn sigterm_during_a_redis_outage_exits_within_the_grace_period() {
    let brokers = brokers();
    let articles = wikinews();
    let mut redis = RedisServer::start(free_port());
    let topics = Topics::create(&brokers, "outage-sigterm", 1, 1);
    let mut worker = Worker::start(&brokers, &topics, &dedupe_env(&redis, "fail_closed"));
    worker.wait_ready(Duration::from_secs(60));
    produce(
        &brokers,
        &topics.input,
        &[Input::json("k", republish(&articles[0], "first", "A"))],
    );
    consume_until(&brokers, &topics.output, Duration::from_secs(60), |m| {
        !m.is_empty()
    });
    redis.stop();
    let stuck: Vec<Input> = (1..4)
        .map(|i| Input::json("k", republish(&articles[i], &format!("stuck-{i}"), "A")))
        .collect();
    produce(&brokers, &topics.input, &stuck);
    wait_until(Duration::from_secs(30), "consumption paused", || {
        worker
            .http_get("/metrics")
            .map(|(_, m)| metric(&m, "wiredesk_consumption_paused") == Some(1.0))
            .unwrap_or(false)
    });
    let started = std::time::Instant::now();
    assert_eq!(worker.sigterm().code(), Some(0));
    // Drain grace is 8 s in the tests (common::worker_command); allow start-up slack, not a hang.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "exit took {:?}",
        started.elapsed()
    );
    assert_eq!(
        topic_len(&brokers, &topics.output),
        1,
        "nothing published while Redis was down"
    );
    assert_eq!(
        committed(&brokers, &topics.group, &topics.input)
            .get(&0)
            .copied(),
        Some(1),
        "only the published message is committed"
    );
}
