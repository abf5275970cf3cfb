//! Replica churn under load on the real broker (issue "Exactly-once mode, dedupe state on Redis
//! Cluster, replica churn"): six input partitions, three replicas sharing a real Redis, input
//! arriving all along; several times one replica is killed with SIGKILL and a new one added.
//! At-least-once: no id is missing. Exactly-once: a `read_committed` reader sees every id exactly
//! once in output plus dead-letter.
//! Needs `WIREDESK_TEST_BROKERS` (scripts/test) and `redis-server` on PATH.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::redis_server::RedisServer;
use common::*;

const PARTITIONS: i32 = 6;
const REPLICAS: usize = 3;
const CYCLES: usize = 3;

/// Run the churn scenario; returns the topics and every id produced.
fn churn(mode: &str) -> (Topics, HashSet<String>) {
    let brokers = brokers();
    let redis = RedisServer::start(free_port());
    let topics = Topics::create(&brokers, &format!("churn-{mode}"), PARTITIONS, 3);
    let tag = unique(mode);
    let env_for = |replica: usize| {
        let mut env = dedupe_env(&redis, "fail_closed");
        // One key prefix for the whole group: replicas share decisions.
        env.retain(|(key, _)| *key != "WIREDESK__DEDUPE__REDIS__KEY_PREFIX");
        env.push(("WIREDESK__DEDUPE__REDIS__KEY_PREFIX", format!("{tag}:")));
        env.push(("WIREDESK__DELIVERY__MODE", mode.into()));
        // A new replica gets a new id (a Deployment, not a StatefulSet): the killed one's open
        // transaction is aborted by the broker after the timeout, the harder case.
        env.push((
            "WIREDESK__DELIVERY__TRANSACTIONAL_ID",
            format!("{tag}-replica-{replica}"),
        ));
        env.push(("WIREDESK__DELIVERY__TRANSACTION_TIMEOUT_MS", "10000".into()));
        env.push(("WIREDESK__PROCESSING__MAX_IN_FLIGHT", "256".into()));
        env
    };

    // Load: a first batch, then 120 more every 200 ms until the churn is over.
    let mut ids = HashSet::new();
    let batch = |from: usize, to: usize| -> Vec<Input> {
        (from..to)
            .map(|i| {
                let id = format!("c-{i:06}");
                if i % 500 == 3 {
                    // Some bad input: its dead letter counts as its reflection.
                    Input::raw(&id, b"\xff not json")
                } else {
                    Input::json(&id, distinct_article(&id, i))
                }
            })
            .collect()
    };
    let first = 1_500;
    produce(&brokers, &topics.input, &batch(0, first));
    ids.extend((0..first).map(|i| format!("c-{i:06}")));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feeder = std::thread::spawn({
        let brokers = brokers.clone();
        let input = topics.input.clone();
        let stop = std::sync::Arc::clone(&stop);
        move || {
            let mut next = first;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                produce(&brokers, &input, &batch(next, next + 120));
                next += 120;
                std::thread::sleep(Duration::from_millis(200));
            }
            next
        }
    });

    let mut replicas: Vec<Worker> = (0..REPLICAS)
        .map(|r| Worker::start(&brokers, &topics, &env_for(r)))
        .collect();
    let mut started = REPLICAS;
    for cycle in 0..CYCLES {
        std::thread::sleep(Duration::from_secs(4));
        let victim = cycle % replicas.len();
        replicas[victim].kill9();
        replicas.remove(victim);
        replicas.push(Worker::start(&brokers, &topics, &env_for(started)));
        started += 1;
        std::thread::sleep(Duration::from_secs(2));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let produced = feeder.join().expect("feeder");
    ids.extend((first..produced).map(|i| format!("c-{i:06}")));
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(300),
        "the group to commit every input offset after the churn",
    );
    for mut replica in replicas {
        assert!(replica.sigterm().success(), "a clean exit after the churn");
    }
    eprintln!(
        "churn ({mode}): {} inputs, {CYCLES} kill -9 + add cycles, {started} replicas started",
        ids.len()
    );
    (topics, ids)
}

#[test]
fn at_least_once_churn_loses_nothing() {
    let brokers = brokers();
    let (topics, ids) = churn("at_least_once");
    let mut seen = HashSet::new();
    let mut records = 0;
    for topic in [&topics.output, &topics.dead_letter] {
        for message in read_all(&brokers, topic) {
            records += 1;
            let role = if topic == &topics.output {
                "output"
            } else {
                "dead_letter"
            };
            seen.insert(identify(&message, role).0);
        }
    }
    let missing: Vec<&String> = ids.difference(&seen).take(10).collect();
    assert!(missing.is_empty(), "lost during churn: {missing:?}");
    eprintln!(
        "at-least-once churn: {records} records for {} ids ({} redelivered duplicates)",
        ids.len(),
        records - ids.len()
    );
}

#[test]
fn exactly_once_churn_each_id_once_for_read_committed_readers() {
    let brokers = brokers();
    let (topics, ids) = churn("exactly_once");
    // Panics on any id seen twice across output, duplicates and dead-letter topics.
    let seen = committed_once(&brokers, &topics);
    let seen_ids: HashSet<String> = seen.keys().cloned().collect();
    let missing: Vec<&String> = ids.difference(&seen_ids).take(10).collect();
    assert!(missing.is_empty(), "missing after churn: {missing:?}");
    assert_eq!(seen_ids.len(), ids.len(), "ids nobody produced");
    // The log itself holds more than that: the aborted transactions' records, skipped by the
    // reader. Without them the test would not have exercised an abort.
    let raw = topic_len(&brokers, &topics.output) + topic_len(&brokers, &topics.dead_letter);
    let dead = seen
        .values()
        .filter(|(role, _)| *role == "dead_letter")
        .count();
    assert!(dead > 0, "the churn includes bad input");
    eprintln!(
        "exactly-once churn: {} ids each once; the output and dead-letter logs hold {raw} offsets (aborted records and transaction markers included)",
        ids.len()
    );
}
