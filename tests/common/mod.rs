//! Shared helpers for the integration tests: a real Kafka broker (from `scripts/kafka-local`),
//! random topic and group names per test, a real producer and consumer, and the worker binary run
//! as a child process with its settings in environment variables.
#![allow(dead_code)]

pub mod own_broker;
pub mod redis_cluster;
pub mod redis_server;
pub mod tls;

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};

/// Bootstrap servers of the test broker. Fails (never skips) with instructions when unset or down.
pub fn brokers() -> String {
    let brokers = std::env::var("WIREDESK_TEST_BROKERS").unwrap_or_else(|_| {
        panic!(
            "WIREDESK_TEST_BROKERS is not set. These tests need a real Kafka broker: run `scripts/test`, \
             or `scripts/kafka-local start` and `export WIREDESK_TEST_BROKERS=127.0.0.1:9092`."
        )
    });
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .expect("client");
    if let Err(error) = consumer.fetch_metadata(None, Duration::from_secs(10)) {
        panic!(
            "Kafka at {brokers} is not reachable ({error}). Start it with `scripts/kafka-local start` \
             (or run everything with `scripts/test`)."
        );
    }
    brokers
}

/// A unique name per test run, so tests never share topics or groups.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{:x}",
        std::process::id(),
        nanos & 0xffff_ffff_ffff
    )
}

/// A one-partition topic whose records (batches, as the broker checks them) may be at most
/// `max_bytes` (the broker's default is about 1 MB).
pub fn create_topic_with_max_bytes(brokers: &str, name: &str, max_bytes: usize) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let max = max_bytes.to_string();
    let topic = NewTopic::new(name, 1, TopicReplication::Fixed(1)).set("max.message.bytes", &max);
    for result in runtime
        .block_on(admin.create_topics(&[topic], &AdminOptions::new()))
        .unwrap()
    {
        result.unwrap();
    }
    wait_until(
        Duration::from_secs(30),
        "topic with max.message.bytes",
        || high_watermarks(brokers, name).len() == 1,
    );
}

pub fn create_topic(brokers: &str, name: &str, partitions: i32) {
    create_topic_with(brokers, name, partitions, TopicReplication::Fixed(1));
}

/// A topic whose partition `i` lives on the brokers (node ids) in `replicas[i]`.
pub fn create_topic_on(brokers: &str, name: &str, replicas: &[&[i32]]) {
    create_topic_with(
        brokers,
        name,
        replicas.len() as i32,
        TopicReplication::Variable(replicas),
    );
}

fn create_topic_with(brokers: &str, name: &str, partitions: i32, replication: TopicReplication) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let results = runtime
        .block_on(admin.create_topics(
            &[NewTopic::new(name, partitions, replication)],
            &AdminOptions::new(),
        ))
        .expect("create_topics");
    for result in results {
        result.unwrap_or_else(|(topic, error)| panic!("creating topic {topic}: {error}"));
    }
    // Wait until the metadata shows every partition with a leader.
    wait_until(Duration::from_secs(30), "topic metadata", || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .create()
            .unwrap();
        consumer
            .fetch_metadata(Some(name), Duration::from_secs(5))
            .map(|m| {
                m.topics()
                    .first()
                    .map(|t| {
                        t.error().is_none()
                            && t.partitions().len() == partitions as usize
                            && t.partitions().iter().all(|p| p.leader() >= 0)
                    })
                    .unwrap_or(false)
            })
            .unwrap_or(false)
    });
}

/// One message to produce.
#[derive(Clone, Debug)]
pub struct Input {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub partition: Option<i32>,
}

impl Input {
    pub fn json(key: &str, value: serde_json::Value) -> Self {
        Input {
            key: Some(key.as_bytes().to_vec()),
            value: Some(serde_json::to_vec(&value).unwrap()),
            headers: vec![],
            partition: None,
        }
    }
    pub fn raw(key: &str, value: &[u8]) -> Self {
        Input {
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.to_vec()),
            headers: vec![],
            partition: None,
        }
    }
}

/// Produce and wait for every acknowledgement; returns (partition, offset) per input.
pub fn produce(brokers: &str, topic: &str, inputs: &[Input]) -> Vec<(i32, i64)> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut futures = Vec::new();
        for input in inputs {
            let mut headers = OwnedHeaders::new();
            for (k, v) in &input.headers {
                headers = headers.insert(Header {
                    key: k,
                    value: Some(v),
                });
            }
            let mut record = FutureRecord::<[u8], [u8]>::to(topic).headers(headers);
            if let Some(k) = &input.key {
                record = record.key(k);
            }
            if let Some(v) = &input.value {
                record = record.payload(v);
            }
            if let Some(p) = input.partition {
                record = record.partition(p);
            }
            futures.push(
                producer
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .expect("enqueue"),
            );
        }
        let mut positions = Vec::new();
        for f in futures {
            let delivery = f
                .await
                .expect("delivery")
                .unwrap_or_else(|(e, _)| panic!("produce failed: {e}"));
            positions.push((delivery.partition, delivery.offset));
        }
        positions
    })
}

/// A consumer outside any group's offsets, assigned every partition of `topic` from the
/// beginning, with extra properties; and the partitions.
fn reader_from_beginning(
    brokers: &str,
    topic: &str,
    extra: &[(&str, &str)],
) -> (BaseConsumer, Vec<i32>) {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    let consumer: BaseConsumer = config.create().expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    let mut list = TopicPartitionList::new();
    for p in &partitions {
        list.add_partition_offset(topic, *p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).expect("assign");
    (consumer, partitions)
}

/// Read a topic from the beginning until `done(&messages)` holds or `timeout` passes.
pub fn consume_until(
    brokers: &str,
    topic: &str,
    timeout: Duration,
    done: impl Fn(&[OwnedMessage]) -> bool,
) -> Vec<OwnedMessage> {
    let (consumer, _) = reader_from_beginning(brokers, topic, &[]);
    let deadline = Instant::now() + timeout;
    let mut messages = Vec::new();
    while Instant::now() < deadline && !done(&messages) {
        if let Some(result) = consumer.poll(Duration::from_millis(200)) {
            messages.push(result.expect("consume").detach());
        }
    }
    messages
}

/// Read everything currently in a topic: until the consumer reaches every partition's high watermark.
pub fn read_all(brokers: &str, topic: &str) -> Vec<OwnedMessage> {
    let ends = high_watermarks(brokers, topic);
    let total: i64 = ends.values().sum();
    consume_until(brokers, topic, Duration::from_secs(60), |m| {
        m.len() as i64 >= total
    })
}

/// Read a topic as a downstream `read_committed` consumer does: every committed record, none of
/// an aborted or still-open transaction, until each partition's end (its last stable offset; the
/// transaction markers between records make counts of offsets useless here).
pub fn read_committed(brokers: &str, topic: &str) -> Vec<OwnedMessage> {
    let (consumer, partitions) = reader_from_beginning(
        brokers,
        topic,
        &[
            ("isolation.level", "read_committed"),
            ("enable.partition.eof", "true"),
        ],
    );
    let mut at_end = std::collections::HashSet::new();
    let mut messages = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while at_end.len() < partitions.len() {
        assert!(
            Instant::now() < deadline,
            "reading {topic} read_committed: no end of partitions {:?} after 120 s (a transaction left open?)",
            partitions
                .iter()
                .filter(|p| !at_end.contains(*p))
                .collect::<Vec<_>>()
        );
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(message)) => messages.push(message.detach()),
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(error)) => panic!("reading {topic}: {error}"),
            None => {}
        }
    }
    messages
}

pub fn high_watermarks(brokers: &str, topic: &str) -> HashMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| {
            (
                p.id(),
                consumer
                    .fetch_watermarks(topic, p.id(), Duration::from_secs(10))
                    .expect("watermarks")
                    .1,
            )
        })
        .collect()
}

/// Records in a topic, all partitions together (the sum of the high watermarks).
pub fn topic_len(brokers: &str, topic: &str) -> i64 {
    high_watermarks(brokers, topic).values().sum()
}

/// Wait until `group` has committed every offset of `topic` that exists now: the worker has
/// finished (and published) everything produced so far.
pub fn wait_all_committed(brokers: &str, group: &str, topic: &str, timeout: Duration, what: &str) {
    let ends = high_watermarks(brokers, topic);
    wait_until(timeout, what, || committed(brokers, group, topic) == ends);
}

/// Offsets committed by `group` on `topic` (partition → next offset; absent = none committed).
pub fn committed(brokers: &str, group: &str, topic: &str) -> HashMap<i32, i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .unwrap();
    let ends = high_watermarks(brokers, topic);
    let mut list = TopicPartitionList::new();
    for p in ends.keys() {
        list.add_partition(topic, *p);
    }
    // The group coordinator can move or still be loading `__consumer_offsets` (NotCoordinator,
    // CoordinatorLoadInProgress): the client rediscovers it, so ask again for a while instead
    // of failing the test on a broker-side hand-over.
    let deadline = Instant::now() + Duration::from_secs(30);
    let committed = loop {
        match consumer.committed_offsets(list.clone(), Duration::from_secs(10)) {
            Ok(committed) => break committed,
            Err(e) if Instant::now() < deadline => {
                eprintln!("committed offsets of {group} on {topic}: {e}; asking again");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("committed offsets of {group} on {topic}: {e}"),
        }
    };
    committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect()
}

pub fn wait_until(timeout: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !condition() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn header(message: &OwnedMessage, name: &str) -> Option<String> {
    let headers = message.headers()?;
    headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Topics and group of one test.
#[derive(Clone, Debug)]
pub struct Topics {
    pub input: String,
    pub output: String,
    pub dead_letter: String,
    pub duplicates: String,
    pub group: String,
}

impl Topics {
    pub fn create(
        brokers: &str,
        name: &str,
        input_partitions: i32,
        output_partitions: i32,
    ) -> Self {
        let t = Topics {
            input: unique(&format!("{name}-in")),
            output: unique(&format!("{name}-out")),
            dead_letter: unique(&format!("{name}-dlq")),
            duplicates: unique(&format!("{name}-dup")),
            group: unique(&format!("{name}-group")),
        };
        create_topic(brokers, &t.input, input_partitions);
        create_topic(brokers, &t.output, output_partitions);
        create_topic(brokers, &t.dead_letter, 1);
        create_topic(brokers, &t.duplicates, 1);
        t
    }
}

/// `wiredesk run` with one test's topics and group, quick timeouts and JSON logs; the caller adds
/// the brokers, log level and output handling.
pub fn worker_command(topics: &Topics, http_port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wiredesk"));
    command
        .arg("run")
        .env_remove("WIREDESK_CONFIG")
        .env("WIREDESK__KAFKA__GROUP_ID", &topics.group)
        .env("WIREDESK__KAFKA__SESSION_TIMEOUT_MS", "10000")
        .env("WIREDESK__KAFKA__STATISTICS_INTERVAL_MS", "1000")
        .env("WIREDESK__SHUTDOWN__DRAIN_TIMEOUT_MS", "8000")
        .env("WIREDESK__TOPICS__INPUT", &topics.input)
        .env("WIREDESK__TOPICS__OUTPUT", &topics.output)
        .env("WIREDESK__TOPICS__DEAD_LETTER", &topics.dead_letter)
        .env("WIREDESK__TOPICS__DUPLICATES", &topics.duplicates)
        .env("WIREDESK__HTTP__LISTEN", format!("127.0.0.1:{http_port}"))
        .env("WIREDESK__LOG__FORMAT", "json");
    command
}

/// The worker binary as a child process.
pub struct Worker {
    pub child: Child,
    pub http_port: u16,
}

impl Worker {
    /// Start `wiredesk run` against `topics`, with extra `WIREDESK__…` variables.
    pub fn start(brokers: &str, topics: &Topics, extra_env: &[(&str, String)]) -> Worker {
        let http_port = free_port();
        let mut command = worker_command(topics, http_port);
        command
            .env("WIREDESK__KAFKA__BROKERS", brokers)
            .env(
                "RUST_LOG",
                std::env::var("TEST_RUST_LOG").unwrap_or_else(|_| "warn,wiredesk=info".into()),
            )
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TEST_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        for (key, value) in extra_env {
            command.env(key, value);
        }
        let child = command.spawn().expect("spawning the wiredesk binary");
        Worker { child, http_port }
    }

    pub fn http_get(&self, path: &str) -> Option<(u16, String)> {
        http_get(self.http_port, path)
    }

    pub fn wait_ready(&mut self, timeout: Duration) {
        let port = self.http_port;
        let child = &mut self.child;
        wait_until(timeout, "worker /readyz", || {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("worker exited early with {status}");
            }
            matches!(http_get(port, "/readyz"), Some((200, _)))
        });
    }

    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    pub fn sigterm(&mut self) -> std::process::ExitStatus {
        sigterm_and_wait(&mut self.child, Duration::from_secs(60))
    }
}

/// Send SIGTERM (what Kubernetes sends) and wait for the exit, failing the test after `timeout`.
pub fn sigterm_and_wait(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "process did not exit within {timeout:?} of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Minimal HTTP/1.0 GET against 127.0.0.1 (the tests need no HTTP client dependency).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((status, body))
}

/// A realistic small article for volume tests.
pub fn article(id: &str, n: usize) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "title": format!("Markets steady as traders weigh report number {n}"),
        "body": format!("NEW YORK (Wire) - Stocks were little changed on day {n} as investors weighed fresh data on inflation and the outlook for interest rates.\n\nAnalysts said the Federal Reserve was likely to hold rates steady at its next meeting."),
        "source": "Test Wire",
        "published_at": "2026-06-10T09:00:00Z",
    })
}

/// id → (topic role, record) for everything a `read_committed` reader sees; panics on an id seen
/// twice (the exactly-once promise).
pub fn committed_once(
    brokers: &str,
    topics: &Topics,
) -> HashMap<String, (&'static str, serde_json::Value)> {
    let mut seen: HashMap<String, (&'static str, serde_json::Value)> = HashMap::new();
    for (role, topic) in [
        ("output", &topics.output),
        ("duplicates", &topics.duplicates),
        ("dead_letter", &topics.dead_letter),
    ] {
        for message in read_committed(brokers, topic) {
            let (id, value) = identify(&message, role);
            if let Some((first, _)) = seen.insert(id.clone(), (role, value)) {
                panic!("{id} seen twice by a read_committed reader: in {first} and in {role}");
            }
        }
    }
    seen
}

/// The input id a record stands for: the enriched record's `id`, or a dead letter's key.
pub fn identify(message: &OwnedMessage, role: &str) -> (String, serde_json::Value) {
    if role == "dead_letter" {
        let key = String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned();
        let reason = header(message, "wiredesk-reason").unwrap_or_default();
        return (key, serde_json::json!({ "reason": reason }));
    }
    let value: serde_json::Value =
        serde_json::from_slice(message.payload().expect("a payload")).expect("JSON");
    (value["id"].as_str().expect("an id").to_owned(), value)
}

/// An article whose words are drawn from a seeded generator, so that any two of them (for
/// different `n`) share no word shingles: dedupe tests can tell stories apart by construction.
pub fn distinct_article(id: &str, n: usize) -> serde_json::Value {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ra", "tu", "ne", "so", "vi", "pe", "da", "ri", "go", "ba", "fe", "zu",
        "ho",
    ];
    let mut state = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5851_f42d_4c95_7f2d;
    let mut word = || {
        let mut w = String::new();
        for _ in 0..3 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            w.push_str(SYLLABLES[(state >> 60) as usize]);
        }
        w
    };
    let sentences: Vec<String> = (0..8)
        .map(|_| {
            let words: Vec<String> = (0..12).map(|_| word()).collect();
            format!("{}.", words.join(" "))
        })
        .collect();
    serde_json::json!({
        "id": id,
        "title": format!("Report {n}: {} {}", word(), word()),
        "body": sentences.join(" "),
        "source": "Test Wire",
        "published_at": "2026-06-10T09:00:00Z",
    })
}

/// The value of one series in a Prometheus text exposition (`name` includes any labels).
pub fn metric(exposition: &str, name: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            (series == name).then(|| value.parse().ok()).flatten()
        })
}

/// Worker settings for the Redis dedupe store under `policy` (`fail_open` or `fail_closed`),
/// with a fresh key prefix and quick timeouts.
pub fn dedupe_env(redis: &redis_server::RedisServer, policy: &str) -> Vec<(&'static str, String)> {
    vec![
        ("WIREDESK__DEDUPE__ENABLED", "true".into()),
        ("WIREDESK__DEDUPE__STORE", "redis".into()),
        ("WIREDESK__DEDUPE__REDIS__URL", redis.url()),
        ("WIREDESK__DEDUPE__REDIS__KEY_PREFIX", unique("wd")),
        ("WIREDESK__DEDUPE__REDIS__TIMEOUT_MS", "300".into()),
        ("WIREDESK__DEDUPE__ON_STORE_ERROR", policy.into()),
        ("WIREDESK__DELIVERY__RETRY_BACKOFF_MS", "200".into()),
        ("WIREDESK__DELIVERY__RETRY_MAX_BACKOFF_MS", "1000".into()),
    ]
}
