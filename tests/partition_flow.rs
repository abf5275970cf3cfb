//! Per-partition flow on a real two-node Kafka cluster: an output partition that cannot be
//! written (its only replica's broker is frozen) holds back only the input partition that feeds
//! it; the other input partition is published and committed to its end meanwhile, and nothing is
//! lost once the broker is back.
//!
//! Before per-partition lanes, one ordered queue for every message meant that the first record
//! waiting for the frozen partition blocked every later message of every partition, and then the
//! in-flight budget filled: the whole worker stopped.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use common::own_broker::OwnBroker;
use common::*;
use rdkafka::message::Message;

/// Ids whose output records go to output partition 0 and to partition 1 (`count` of each):
/// probed with the default partitioner, the worker's, on a two-partition topic.
fn ids_by_output_partition(brokers: &str, prefix: &str, count: usize) -> [Vec<String>; 2] {
    let probe = unique("probe");
    create_topic_on(brokers, &probe, &[&[1], &[1]]);
    let candidates: Vec<String> = (0..count * 4).map(|i| format!("{prefix}{i}")).collect();
    let inputs: Vec<Input> = candidates
        .iter()
        .map(|id| Input::raw(id, b"probe"))
        .collect();
    let mut by_partition: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    for (id, (partition, _)) in candidates.iter().zip(produce(brokers, &probe, &inputs)) {
        let ids = &mut by_partition[partition as usize];
        if ids.len() < count {
            ids.push(id.clone());
        }
    }
    assert!(
        by_partition.iter().all(|ids| ids.len() == count),
        "the partitioner spread {} candidates unevenly",
        candidates.len()
    );
    by_partition
}

fn articles(ids: &[String], partition: i32) -> Vec<Input> {
    ids.iter()
        .enumerate()
        .map(|(n, id)| {
            let mut input = Input::json(id, article(id, n));
            input.partition = Some(partition);
            input
        })
        .collect()
}

#[test]
fn an_unwritable_output_partition_holds_back_only_the_input_partition_feeding_it() {
    let first = OwnBroker::start();
    let brokers = first.bootstrap.clone();
    // The group coordinator must stay reachable: `__consumer_offsets` (one partition) is created
    // on the first group request, so make one before node 2 exists.
    let warm = unique("warm");
    create_topic(&brokers, &warm, 1);
    committed(&brokers, &unique("warm-group"), &warm);
    let second = OwnBroker::join(&first, 2);

    let topics = Topics {
        input: unique("flow-in"),
        output: unique("flow-out"),
        dead_letter: unique("flow-dlq"),
        duplicates: unique("flow-dup"),
        group: unique("flow-group"),
    };
    create_topic_on(&brokers, &topics.input, &[&[1], &[1]]);
    // Output partition 1 has its only replica on node 2: freezing node 2 makes it unwritable.
    create_topic_on(&brokers, &topics.output, &[&[1], &[2]]);
    create_topic_on(&brokers, &topics.dead_letter, &[&[1]]);
    create_topic_on(&brokers, &topics.duplicates, &[&[1]]);

    // Input partition 0 carries only articles whose records go to output partition 0, input
    // partition 1 only those that go to output partition 1. More than half the in-flight budget
    // (512) waits on the frozen partition.
    let [to_out0, to_out1] = ids_by_output_partition(&brokers, "pf", 401);
    let mut worker = Worker::start(
        &brokers,
        &topics,
        &[("WIREDESK__DEDUPE__ENABLED", "false".to_owned())],
    );
    worker.wait_ready(Duration::from_secs(60));
    // Both paths work before the freeze.
    produce(&brokers, &topics.input, &articles(&to_out1[..1], 1));
    produce(&brokers, &topics.input, &articles(&to_out0[..1], 0));
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(60),
        "the first two articles",
    );

    second.signal("STOP");
    // Input partition 1 first, so that its records are the oldest in flight.
    produce(&brokers, &topics.input, &articles(&to_out1[1..], 1));
    produce(&brokers, &topics.input, &articles(&to_out0[1..], 0));
    let ends = high_watermarks(&brokers, &topics.input);
    wait_until(
        Duration::from_secs(60),
        "input partition 0 committed to its end while output partition 1 is unwritable",
        || committed(&brokers, &topics.group, &topics.input).get(&0) == ends.get(&0),
    );
    let now = committed(&brokers, &topics.group, &topics.input);
    assert!(
        now.get(&1) < ends.get(&1),
        "input partition 1 was committed ({now:?}, ends {ends:?}) although its output cannot be written"
    );
    let metrics = worker.http_get("/metrics").expect("metrics").1;
    assert_eq!(
        metric(&metrics, "wiredesk_throttled_partitions"),
        Some(1.0),
        "the stuck partition is paused on its own"
    );
    assert!(
        worker.child.try_wait().unwrap().is_none(),
        "the worker exited while a partition was unwritable"
    );

    second.signal("CONT");
    wait_all_committed(
        &brokers,
        &topics.group,
        &topics.input,
        Duration::from_secs(150),
        "everything committed once output partition 1 is back",
    );
    let mut published: HashMap<i32, HashSet<String>> = HashMap::new();
    for message in read_all(&brokers, &topics.output) {
        let id = String::from_utf8_lossy(message.key().expect("keyed")).into_owned();
        published.entry(message.partition()).or_default().insert(id);
    }
    for (partition, ids) in [(0, &to_out0), (1, &to_out1)] {
        for id in ids {
            assert!(
                published.get(&partition).is_some_and(|p| p.contains(id)),
                "{id} missing from output partition {partition}"
            );
        }
    }
    assert_eq!(
        topic_len(&brokers, &topics.dead_letter),
        0,
        "nothing was dead-lettered"
    );
    assert_eq!(worker.sigterm().code(), Some(0));
}
