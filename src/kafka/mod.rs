//! Kafka at the edge: client configuration from [`Settings`], the client context (rebalances,
//! statistics, errors), the consume loop ([`source`]), the producer ([`sink`]) and dead-letter
//! records ([`dead_letter`]).

pub mod dead_letter;
pub mod inbound;
pub mod lanes;
pub mod sink;
pub mod source;
pub mod transaction;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::statistics::Statistics;
use rdkafka::topic_partition_list::TopicPartitionList;
use secrecy::ExposeSecret;

use crate::health::Health;
use crate::metrics::Metrics;
use crate::settings::{DeliveryMode, KafkaSettings, Settings};

/// Properties shared by consumer and producer: brokers, identity, security, statistics.
fn common_config(k: &KafkaSettings) -> anyhow::Result<ClientConfig> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &k.brokers)
        .set("client.id", &k.client_id)
        .set(
            "security.protocol",
            k.security_protocol.to_ascii_lowercase(),
        )
        .set(
            "statistics.interval.ms",
            k.statistics_interval_ms.to_string(),
        );
    if let Some(mechanism) = &k.sasl_mechanism {
        config.set("sasl.mechanism", mechanism);
    }
    if let Some(user) = &k.sasl_username {
        config.set("sasl.username", user);
    }
    if let Some(password) = k.resolved_sasl_password()? {
        config.set("sasl.password", password.expose_secret());
    }
    for (key, path) in [
        ("ssl.ca.location", &k.ssl_ca_location),
        ("ssl.certificate.location", &k.ssl_certificate_location),
        ("ssl.key.location", &k.ssl_key_location),
    ] {
        if let Some(path) = path {
            config.set(key, path.display().to_string());
        }
    }
    if let Some(password) = &k.ssl_key_password {
        config.set("ssl.key.password", password.expose_secret());
    }
    config.set(
        "ssl.endpoint.identification.algorithm",
        if k.ssl_endpoint_identification {
            "https"
        } else {
            "none"
        },
    );
    Ok(config)
}

/// At-least-once consumer: offsets are stored by the worker only after the output for a message
/// (and every earlier message of its partition) is acknowledged; librdkafka commits stored offsets
/// periodically, on rebalance and on close.
pub fn consumer_config(s: &Settings) -> anyhow::Result<ClientConfig> {
    let mut config = common_config(&s.kafka)?;
    config
        .set("group.id", &s.kafka.group_id)
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false")
        .set("auto.offset.reset", &s.kafka.auto_offset_reset)
        .set("session.timeout.ms", s.kafka.session_timeout_ms.to_string());
    for (key, value) in &s.kafka.consumer {
        config.set(librdkafka_key(key), value);
    }
    if s.delivery.mode == DeliveryMode::ExactlyOnce {
        // Offsets travel inside the producer's transactions (`send_offsets_to_transaction`), never
        // by the consumer; and input written transactionally by someone else is read only once
        // committed. Set after the pass-through so nothing can undo it (validate refuses it too).
        config
            .set("enable.auto.commit", "false")
            .set("isolation.level", "read_committed");
    }
    Ok(config)
}

/// Idempotent producer with `acks=all`: no duplicates from producer retries, no reordering within
/// a partition, nothing acknowledged before all in-sync replicas have it.
pub fn producer_config(s: &Settings) -> anyhow::Result<ClientConfig> {
    let mut config = common_config(&s.kafka)?;
    config
        .set("enable.idempotence", "true")
        .set("acks", "all")
        // A typo in a topic name must fail, not create a topic nobody reads.
        .set("allow.auto.create.topics", "false")
        // Slightly above our own check (`output.max_record_bytes`, applied before enqueueing) so
        // that an oversized record is caught by wiredesk with a reason, not by librdkafka.
        .set(
            "message.max.bytes",
            (s.output.max_record_bytes + RECORD_OVERHEAD_BYTES).to_string(),
        )
        .set("compression.type", &s.kafka.compression)
        .set("linger.ms", "5")
        .set(
            "message.timeout.ms",
            s.delivery.message_timeout_ms.to_string(),
        );
    for (key, value) in &s.kafka.producer {
        config.set(librdkafka_key(key), value);
    }
    if s.delivery.mode == DeliveryMode::ExactlyOnce {
        let d = &s.delivery;
        config
            .set("transactional.id", d.transactional_id(&s.kafka.group_id))
            .set(
                "transaction.timeout.ms",
                d.transaction_timeout_ms.to_string(),
            )
            // librdkafka refuses a message timeout above the transaction timeout.
            .set(
                "message.timeout.ms",
                d.message_timeout_ms
                    .min(d.transaction_timeout_ms)
                    .to_string(),
            );
    }
    Ok(config)
}

/// Framing librdkafka adds around one record (batch and record headers), above the value, key and
/// headers that wiredesk measures.
pub const RECORD_OVERHEAD_BYTES: usize = 16 * 1024;

/// Pass-through keys may come from environment variables, which cannot carry dots
/// (`WIREDESK__KAFKA__CONSUMER__FETCH_MIN_BYTES`). librdkafka property names never contain
/// underscores, so underscores are read as dots.
pub(crate) fn librdkafka_key(key: &str) -> String {
    key.replace('_', ".")
}

/// Client context shared by consumer and producer: turns librdkafka callbacks into logs, metrics
/// and health.
#[derive(Clone)]
pub struct WorkerContext {
    pub metrics: Metrics,
    pub health: Arc<Health>,
    pub side: &'static str,
    /// Partitions revoked since the consume loop last looked ([`WorkerContext::take_revoked`]):
    /// the callback runs inside the loop's `recv`, and the loop drops their lanes.
    pub revoked: Arc<Mutex<Vec<lanes::PartitionKey>>>,
}

impl WorkerContext {
    pub fn new(metrics: Metrics, health: Arc<Health>, side: &'static str) -> Self {
        WorkerContext {
            metrics,
            health,
            side,
            revoked: Arc::default(),
        }
    }

    /// The partitions revoked since the last call.
    pub fn take_revoked(&self) -> Vec<lanes::PartitionKey> {
        std::mem::take(&mut *self.revoked.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl ClientContext for WorkerContext {
    fn stats(&self, stats: Statistics) {
        let up = stats.brokers.values().any(|b| b.state == "UP");
        if up {
            self.health.broker_seen();
        }
        if self.side == "producer" {
            self.metrics.producer_queue.set(stats.msg_cnt as i64);
            return;
        }
        // Only the consumer writes `dependency_up{kafka}`, so the two clients cannot make it flap.
        self.metrics
            .up
            .with_label_values(&["kafka"])
            .set(if up { 1.0 } else { 0.0 });
        for (name, topic) in &stats.topics {
            for (id, partition) in &topic.partitions {
                // Partition -1 is librdkafka's internal "unassigned" bucket; not-desired partitions
                // are no longer ours.
                if *id < 0 || !partition.desired {
                    continue;
                }
                let labels = [name.as_str(), &id.to_string()];
                if partition.consumer_lag >= 0 {
                    self.metrics
                        .consumer_lag
                        .with_label_values(&labels)
                        .set(partition.consumer_lag);
                }
                if partition.committed_offset >= 0 {
                    self.metrics
                        .committed_offset
                        .with_label_values(&labels)
                        .set(partition.committed_offset);
                }
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.metrics
            .kafka_errors
            .with_label_values(&[self.side])
            .inc();
        tracing::warn!(message = "Kafka client error.", side = self.side, %error, reason);
    }
}

impl ConsumerContext for WorkerContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(list) => {
                self.metrics.rebalances.with_label_values(&["revoke"]).inc();
                // librdkafka commits the stored offsets of revoked partitions itself (auto commit
                // is on); anything still in flight for them is redelivered to the new owner.
                tracing::info!(message = "Partitions revoked.", partitions = %describe(list));
                self.health.assigned.store(0, Ordering::Relaxed);
                self.metrics.assigned_partitions.set(0);
                self.metrics.throttled_partitions.set(0);
                clear_partition_gauges(&self.metrics, list);
                self.revoked
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(
                        list.elements()
                            .iter()
                            .map(|e| (e.topic().to_owned(), e.partition())),
                    );
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(error) => {
                self.metrics.rebalances.with_label_values(&["error"]).inc();
                tracing::warn!(message = "Rebalance failed.", %error);
            }
        }
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            // During a fail_closed store outage the worker has paused what it had; partitions
            // assigned now must not start flowing either (they would only fill memory).
            use rdkafka::consumer::Consumer;
            if self.health.store_paused.load(Ordering::Relaxed) && list.count() > 0 {
                match consumer.pause(list) {
                    Ok(()) => {
                        tracing::info!(message = "Newly assigned partitions paused: the dedupe store is down.", partitions = %describe(list))
                    }
                    Err(error) => {
                        tracing::warn!(message = "Pausing newly assigned partitions failed.", %error)
                    }
                }
            } else if list.count() > 0
                && let Err(error) = consumer.resume(list)
            {
                // librdkafka keeps a partition's pause across a revoke and a new assignment; a
                // partition the loop had throttled (its lane is gone with the revocation) must
                // start flowing again.
                tracing::warn!(message = "Resuming newly assigned partitions failed.", %error)
            }
            self.metrics.rebalances.with_label_values(&["assign"]).inc();
            self.health.assigned.store(list.count(), Ordering::Relaxed);
            self.health.joined.store(true, Ordering::Relaxed);
            self.metrics.assigned_partitions.set(list.count() as i64);
            tracing::info!(message = "Partitions assigned.", partitions = %describe(list));
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        match result {
            Ok(()) => tracing::debug!(message = "Offsets committed.", offsets = %describe(offsets)),
            // NoOffset: nothing new was stored since the last commit; not a failure.
            Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
            Err(error) => {
                self.metrics.commit_failures.inc();
                tracing::warn!(message = "Offset commit failed.", %error);
            }
        }
    }
}

fn clear_partition_gauges(metrics: &Metrics, list: &TopicPartitionList) {
    for element in list.elements() {
        let labels = [element.topic(), &element.partition().to_string()];
        let _ = metrics.consumer_lag.remove_label_values(&labels);
        let _ = metrics.committed_offset.remove_label_values(&labels);
    }
}

fn describe(list: &TopicPartitionList) -> String {
    list.elements()
        .iter()
        .map(|e| format!("{}/{}", e.topic(), e.partition()))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_is_at_least_once_and_passthrough_wins() {
        let mut s = Settings::default();
        s.kafka
            .consumer
            .insert("fetch_min_bytes".into(), "65536".into());
        s.kafka
            .consumer
            .insert("session.timeout.ms".into(), "30000".into());
        let c = consumer_config(&s).unwrap();
        assert_eq!(c.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(c.get("enable.auto.commit"), Some("true"));
        assert_eq!(
            c.get("fetch.min.bytes"),
            Some("65536"),
            "underscores from env vars become dots"
        );
        assert_eq!(
            c.get("session.timeout.ms"),
            Some("30000"),
            "pass-through is applied last"
        );
    }

    #[test]
    fn exactly_once_is_transactional_and_commits_nothing_by_itself() {
        let mut s = Settings::default();
        s.delivery.mode = DeliveryMode::ExactlyOnce;
        s.delivery.transactional_id = Some("wd-0".into());
        s.kafka
            .consumer
            .insert("enable.auto.commit".into(), "true".into());
        let c = consumer_config(&s).unwrap();
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("isolation.level"), Some("read_committed"));
        let p = producer_config(&s).unwrap();
        assert_eq!(p.get("transactional.id"), Some("wd-0"));
        assert_eq!(p.get("transaction.timeout.ms"), Some("60000"));
        assert_eq!(p.get("message.timeout.ms"), Some("60000"), "capped");
        assert_eq!(p.get("enable.idempotence"), Some("true"));
        let plain = producer_config(&Settings::default()).unwrap();
        assert_eq!(plain.get("transactional.id"), None);
    }

    #[test]
    fn producer_is_idempotent_with_acks_all() {
        let p = producer_config(&Settings::default()).unwrap();
        assert_eq!(p.get("enable.idempotence"), Some("true"));
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("compression.type"), Some("zstd"));
    }
}
