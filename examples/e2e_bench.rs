//! End-to-end throughput of `wiredesk run` on a real broker: produce N articles, start the release
//! worker binary, time until every output record is acknowledged on the output topic.
//! Run through `scripts/bench` (which starts Kafka and builds the release binary).
//!
//! Usage: e2e_bench BROKERS WIREDESK_BINARY ARTICLES_JSONL COUNT

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    anyhow::ensure!(
        args.len() == 5,
        "usage: e2e_bench BROKERS WIREDESK_BINARY ARTICLES_JSONL COUNT"
    );
    let (brokers, binary, corpus, count) =
        (&args[1], &args[2], &args[3], args[4].parse::<usize>()?);

    // Real articles, each re-keyed with a unique id so dedupe and keys behave as in production.
    let mut bodies: Vec<serde_json::Map<String, serde_json::Value>> = Vec::new();
    for line in std::fs::read_to_string(corpus)?.lines() {
        if let Ok(serde_json::Value::Object(object)) = serde_json::from_str(line) {
            bodies.push(object);
        }
    }
    anyhow::ensure!(!bodies.is_empty(), "no articles in {corpus}");
    let run = format!("bench-{}", std::process::id());
    let (input, output, dlq, dup) = (
        format!("{run}-in"),
        format!("{run}-out"),
        format!("{run}-dlq"),
        format!("{run}-dup"),
    );
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let topics = [
        NewTopic::new(&input, 4, TopicReplication::Fixed(1)),
        NewTopic::new(&output, 4, TopicReplication::Fixed(1)),
        NewTopic::new(&dlq, 1, TopicReplication::Fixed(1)),
        NewTopic::new(&dup, 1, TopicReplication::Fixed(1)),
    ];
    for result in admin.create_topics(&topics, &AdminOptions::new()).await? {
        result.map_err(|(t, e)| anyhow::anyhow!("creating {t}: {e}"))?;
    }

    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .create()?;
    let started = Instant::now();
    let mut bytes = 0usize;
    let mut pending = Vec::with_capacity(count);
    for i in 0..count {
        let mut article = bodies[i % bodies.len()].clone();
        article.insert("id".into(), format!("bench-{i}").into());
        let payload = serde_json::to_vec(&article)?;
        bytes += payload.len();
        let key = format!("bench-{i}");
        loop {
            match producer.send_result(FutureRecord::to(&input).key(&key).payload(&payload)) {
                Ok(delivery) => {
                    pending.push(delivery);
                    break;
                }
                // Local queue full: wait for what is in flight, then retry.
                Err((_, _)) => {
                    for f in pending.drain(..) {
                        f.await?.map_err(|(e, _)| e)?;
                    }
                }
            }
        }
    }
    for f in pending {
        f.await?.map_err(|(e, _)| e)?;
    }
    eprintln!(
        "produced {count} articles ({:.1} MB) in {:.1}s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let mut worker = Command::new(binary)
        .arg("run")
        .env("WIREDESK__KAFKA__BROKERS", brokers)
        .env("WIREDESK__KAFKA__GROUP_ID", &run)
        .env("WIREDESK__TOPICS__INPUT", &input)
        .env("WIREDESK__TOPICS__OUTPUT", &output)
        .env("WIREDESK__TOPICS__DEAD_LETTER", &dlq)
        .env("WIREDESK__TOPICS__DUPLICATES", &dup)
        .env("WIREDESK__HTTP__LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()?;
    let started = Instant::now();
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    // Done when downstream readers can see every article: at-least-once, once the records are
    // in the log (high watermarks); exactly-once, once their transactions committed, which is
    // when the group's offsets move (the log's offsets also count transaction markers).
    let exactly_once = std::env::var("WIREDESK__DELIVERY__MODE").is_ok_and(|m| m == "exactly_once");
    let group: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", &run)
        .create()?;
    let mut last_report = Instant::now();
    loop {
        let total = if exactly_once {
            committed(&group, &input)?
        } else {
            watermarks(&consumer, &output)?.values().sum::<i64>()
                + watermarks(&consumer, &dlq)?.values().sum::<i64>()
        };
        if total as usize >= count {
            break;
        }
        if last_report.elapsed() > Duration::from_secs(5) {
            eprintln!(
                "  {total}/{count} after {:.0}s",
                started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
        anyhow::ensure!(worker.try_wait()?.is_none(), "worker exited early");
        anyhow::ensure!(started.elapsed() < Duration::from_secs(1800), "timed out");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let _ = worker.wait();
    println!(
        "e2e: {count} articles in {seconds:.2}s = {:.0} articles/s, {:.2} MB/s of input (worker start-up and group join included)",
        count as f64 / seconds,
        bytes as f64 / 1e6 / seconds
    );
    Ok(())
}

/// Offsets the worker's group committed on `topic`, all partitions together.
fn committed(group: &BaseConsumer, topic: &str) -> anyhow::Result<i64> {
    let metadata = group.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut list = rdkafka::TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        list.add_partition(topic, p.id());
    }
    let offsets = group.committed_offsets(list, Duration::from_secs(10))?;
    Ok(offsets
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            rdkafka::Offset::Offset(o) => Some(o),
            _ => None,
        })
        .sum())
}

fn watermarks(consumer: &BaseConsumer, topic: &str) -> anyhow::Result<HashMap<i32, i64>> {
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
    let mut out = HashMap::new();
    for p in metadata.topics()[0].partitions() {
        out.insert(
            p.id(),
            consumer
                .fetch_watermarks(topic, p.id(), Duration::from_secs(10))?
                .1,
        );
    }
    Ok(out)
}
