//! Prometheus metrics. Every handle is registered once on a private [`Registry`] (not the global
//! default, so tests can build several workers in one process). Labels are bounded sets only: topic
//! role, stage name, reject code, partition. Never article ids or error text.
//!
//! Every family is listed with its meaning in `docs/monitoring.md`; `tests/observability.rs` fails
//! when one is missing there, when the exposition fails `promtool check metrics`, or when the
//! dashboard queries a name that is not exported here.

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

/// The registered metric handles; cheap to clone (each handle is an `Arc`).
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub messages_consumed: IntCounterVec,
    pub bytes_consumed: IntCounterVec,
    pub messages_produced: IntCounterVec,
    pub bytes_produced: IntCounterVec,
    pub dead_lettered: IntCounterVec,
    pub duplicates: IntCounterVec,
    pub stage_errors: IntCounterVec,
    pub stage_duration: HistogramVec,
    pub end_to_end: Histogram,
    pub in_flight: IntGauge,
    pub paused: IntGauge,
    pub in_flight_bytes: IntGauge,
    pub resends: IntCounterVec,
    pub breaker_open: IntGauge,
    pub assigned_partitions: IntGauge,
    pub throttled_partitions: IntGauge,
    pub rebalances: IntCounterVec,
    pub consumer_lag: IntGaugeVec,
    pub committed_offset: IntGaugeVec,
    pub commit_failures: IntCounter,
    pub transactions: IntCounterVec,
    pub transaction_commit_duration: Histogram,
    pub kafka_errors: IntCounterVec,
    pub producer_queue: IntGauge,
    pub delivery_errors: IntCounterVec,
    pub dedupe_entries: IntGauge,
    pub dedupe_bytes: IntGauge,
    pub dedupe_store_errors: IntCounterVec,
    pub dedupe_store_duration: Histogram,
    pub taxonomy_reloads: IntCounterVec,
    pub last_progress: Gauge,
    pub build_info: IntGaugeVec,
    pub up: GaugeVec,
}

/// Values of the `stage` label: the pipeline's fixed steps plus every stage `stage::build` can add.
/// Pre-created so `wiredesk_stage_*` series exist (as zeros) before the first record.
pub const STAGES: [&str; 5] = ["parse", "normalize", "entities", "tags", "fingerprint"];

/// Buckets for per-stage CPU time: 10 µs to ~5 s.
const STAGE_BUCKETS: &[f64] = &[
    1e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.5, 1.0, 5.0,
];
/// Buckets for end-to-end latency including broker acks and any backlog: 1 ms to 10 min.
const E2E_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0,
];

impl Metrics {
    /// All metrics on a fresh registry whose names get the `wiredesk_` prefix.
    pub fn new() -> Self {
        Self::with_registry(
            Registry::new_custom(Some("wiredesk".into()), None).expect("a valid constant prefix"),
        )
    }

    /// Register every metric on `registry` and pre-create the bounded label values.
    pub fn with_registry(registry: Registry) -> Self {
        fn reg<C: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: C) -> C {
            r.register(Box::new(c.clone()))
                .expect("metric names are unique and valid");
            c
        }
        let counter = |name: &str, help: &str, labels: &[&str]| {
            reg(
                &registry,
                IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter"),
            )
        };
        let gauge = |name: &str, help: &str| {
            reg(&registry, IntGauge::new(name, help).expect("valid gauge"))
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            reg(
                &registry,
                IntGaugeVec::new(Opts::new(name, help), labels).expect("valid gauge"),
            )
        };

        let m = Metrics {
            messages_consumed: counter("messages_consumed_total", "Messages received from the input topic.", &["topic"]),
            bytes_consumed: counter("consumed_bytes_total", "Bytes of message values received from the input topic.", &["topic"]),
            messages_produced: counter("messages_produced_total", "Records acknowledged by the broker, by destination (output, dead_letter, duplicates).", &["destination"]),
            bytes_produced: counter("produced_bytes_total", "Bytes of record values acknowledged by the broker, by destination.", &["destination"]),
            dead_lettered: counter("messages_dead_lettered_total", "Input messages sent to the dead-letter topic, by reason code.", &["reason"]),
            duplicates: counter("duplicates_total", "Articles recognised as duplicates, by configured action (drop, tag, route).", &["action"]),
            stage_errors: counter("stage_errors_total", "Records rejected by a stage (parse and normalize included).", &["stage"]),
            stage_duration: reg(&registry, HistogramVec::new(HistogramOpts::new("stage_duration_seconds", "Wall-clock time spent in each pipeline step (parse, normalize, stages, fingerprint) per record.").buckets(STAGE_BUCKETS.to_vec()), &["stage"]).expect("valid histogram")),
            end_to_end: reg(&registry, Histogram::with_opts(HistogramOpts::new("end_to_end_latency_seconds", "From the input message timestamp to the broker acknowledging the output record.").buckets(E2E_BUCKETS.to_vec())).expect("valid histogram")),
            in_flight: gauge("in_flight_messages", "Messages taken from Kafka and not yet acknowledged downstream."),
            in_flight_bytes: gauge("in_flight_bytes", "Bytes of input messages (value, key, headers) taken from Kafka and not yet settled, including those held while the dedupe store is down."),
            resends: counter("resends_total", "Records wiredesk re-sent after the producer gave up on them (transient errors), by destination.", &["destination"]),
            breaker_open: gauge("dedupe_breaker_open", "1 while the fail_open circuit breaker skips the dedupe store."),
            paused: gauge("consumption_paused", "1 while the worker is not fetching: in-flight limit reached or dedupe store down with fail_closed."),
            assigned_partitions: gauge("assigned_partitions", "Input partitions currently assigned to this worker."),
            throttled_partitions: gauge("throttled_partitions", "Assigned input partitions paused because they hold their whole share of the in-flight budget (work for them is stuck: a slow article or an output partition that does not acknowledge)."),
            rebalances: counter("rebalances_total", "Consumer group rebalances seen, by kind (assign, revoke, error).", &["kind"]),
            consumer_lag: gauge_vec("consumer_lag_messages", "High watermark minus committed offset per assigned partition (librdkafka statistics; absent until the group has committed an offset for the partition).", &["topic", "partition"]),
            committed_offset: gauge_vec("consumer_committed_offset", "Offset last committed by this worker per assigned partition: the next offset the group will read (librdkafka statistics).", &["topic", "partition"]),
            commit_failures: reg(&registry, IntCounter::new("commit_failures_total", "Offset commits the broker refused or that failed.").expect("valid counter")),
            transactions: counter("transactions_total", "Exactly-once mode: Kafka transactions ended, by result (committed, aborted).", &["result"]),
            transaction_commit_duration: reg(&registry, Histogram::with_opts(HistogramOpts::new("transaction_commit_duration_seconds", "Exactly-once mode: time to send the offsets and commit one transaction.").buckets(STAGE_BUCKETS.to_vec())).expect("valid histogram")),
            kafka_errors: counter("kafka_errors_total", "Kafka client errors, by side (consumer, producer) — transient ones are retried.", &["side"]),
            producer_queue: gauge("producer_queue_messages", "Records waiting in the producer queue (librdkafka statistics)."),
            delivery_errors: counter("delivery_errors_total", "Records the broker did not acknowledge (each is re-sent), by destination.", &["destination"]),
            dedupe_entries: gauge("dedupe_index_entries", "Articles held in the dedupe index (memory store)."),
            dedupe_bytes: gauge("dedupe_index_bytes", "Approximate memory of the dedupe index (memory store)."),
            dedupe_store_errors: counter("dedupe_store_errors_total", "Dedupe store calls that failed, by policy outcome (fail_open, fail_closed).", &["outcome"]),
            dedupe_store_duration: reg(&registry, Histogram::with_opts(HistogramOpts::new("dedupe_store_duration_seconds", "Round-trip time of dedupe store look-ups (Redis or memory).").buckets(STAGE_BUCKETS.to_vec())).expect("valid histogram")),
            taxonomy_reloads: counter("taxonomy_reloads_total", "Taxonomy reloads on SIGHUP, by result (ok, error).", &["result"]),
            last_progress: reg(&registry, Gauge::new("last_progress_timestamp_seconds", "Unix time the worker last finished a record.").expect("valid gauge")),
            build_info: gauge_vec("build_info", "Always 1; labels carry the version and git revision.", &["version", "revision"]),
            up: reg(&registry, GaugeVec::new(Opts::new("dependency_up", "1 when a dependency answers: kafka, dedupe_store."), &["dependency"]).expect("valid gauge")),
            registry,
        };
        m.build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), crate::GIT_REVISION])
            .set(1);
        // Kafka counts as down until the first statistics report shows a broker UP, so a worker
        // that never reaches the cluster is visible (and alertable) rather than silent.
        m.up.with_label_values(&["kafka"]).set(0.0);
        // "Last progress" starts at start-up, so a fresh worker does not look stalled since 1970.
        m.last_progress.set(crate::health::now_ms() as f64 / 1000.0);
        // Pre-create bounded label values so dashboards and alerts see zeros, not absent series.
        for code in crate::error::RejectCode::ALL {
            m.dead_lettered.with_label_values(&[code.as_str()]);
        }
        for destination in ["output", "dead_letter", "duplicates"] {
            m.messages_produced.with_label_values(&[destination]);
            m.bytes_produced.with_label_values(&[destination]);
            m.delivery_errors.with_label_values(&[destination]);
        }
        for action in ["drop", "tag", "route"] {
            m.duplicates.with_label_values(&[action]);
        }
        for stage in STAGES {
            m.stage_errors.with_label_values(&[stage]);
            m.stage_duration.with_label_values(&[stage]);
        }
        for outcome in ["fail_open", "fail_closed"] {
            m.dedupe_store_errors.with_label_values(&[outcome]);
        }
        for result in ["ok", "error"] {
            m.taxonomy_reloads.with_label_values(&[result]);
        }
        for kind in ["assign", "revoke", "error"] {
            m.rebalances.with_label_values(&[kind]);
        }
        for result in ["committed", "aborted"] {
            m.transactions.with_label_values(&[result]);
        }
        for side in ["consumer", "producer"] {
            m.kafka_errors.with_label_values(&[side]);
        }
        m
    }

    /// The text exposition format served at `/metrics`.
    pub fn encode(&self) -> String {
        use prometheus::Encoder;
        let mut buffer = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buffer)
            .expect("text encoding into a Vec cannot fail");
        String::from_utf8(buffer).expect("the text format is UTF-8")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_prefixed_names_and_build_info() {
        let m = Metrics::new();
        m.messages_consumed.with_label_values(&["in"]).inc();
        let text = m.encode();
        assert!(
            text.contains("wiredesk_messages_consumed_total{topic=\"in\"} 1"),
            "{text}"
        );
        assert!(text.contains("wiredesk_build_info{"));
        assert!(text.contains("wiredesk_messages_dead_lettered_total{reason=\"invalid_json\"} 0"));
    }
}
