//! The producer side: records are enqueued in input order and acknowledged asynchronously. The
//! producer is idempotent with `acks=all`, so librdkafka's own retries neither duplicate nor
//! reorder records within a partition.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use tokio_util::sync::CancellationToken;

use super::WorkerContext;
use crate::error::RejectCode;
use crate::metrics::Metrics;

pub use crate::outcome::Destination;

/// One record to publish. Kept until acknowledged so it can be re-sent.
#[derive(Debug, Clone)]
pub struct OutRecord {
    pub destination: Destination,
    pub topic: String,
    pub key: Option<Vec<u8>>,
    /// `None` only for a dead-lettered tombstone, which keeps its null value.
    pub payload: Option<Vec<u8>>,
    pub headers: Vec<(String, Vec<u8>)>,
}

pub struct Sink {
    producer: FutureProducer<WorkerContext>,
    metrics: Metrics,
}

impl Sink {
    pub fn new(producer: FutureProducer<WorkerContext>, metrics: Metrics) -> Self {
        Sink { producer, metrics }
    }

    pub fn producer(&self) -> &FutureProducer<WorkerContext> {
        &self.producer
    }

    /// Hand a record to librdkafka and return its acknowledgement future. When the local queue is
    /// full, wait and try again: that is backpressure, not an error. Gives up with
    /// `KafkaError::Canceled` when `shutdown` is cancelled meanwhile (a broker outage must not
    /// hold a shutdown past its drain deadline).
    pub async fn enqueue(
        &self,
        record: &OutRecord,
        shutdown: &CancellationToken,
        mut waiting: impl FnMut(),
    ) -> Result<DeliveryFuture, KafkaError> {
        loop {
            let mut headers = OwnedHeaders::new_with_capacity(record.headers.len());
            for (key, value) in &record.headers {
                headers = headers.insert(Header {
                    key,
                    value: Some(value),
                });
            }
            let mut future_record = FutureRecord::<[u8], [u8]>::to(&record.topic).headers(headers);
            if let Some(payload) = &record.payload {
                future_record = future_record.payload(payload);
            }
            if let Some(key) = &record.key {
                future_record = future_record.key(key);
            }
            match self.producer.send_result(future_record) {
                Ok(delivery) => return Ok(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    waiting();
                    tokio::select! {
                        _ = shutdown.cancelled() => return Err(KafkaError::Canceled),
                        _ = tokio::time::sleep(Duration::from_millis(20)) => {}
                    }
                }
                Err((error, _)) => return Err(error),
            }
        }
    }

    /// Wait for one acknowledgement. `Ok` only when the broker has the record.
    pub async fn acknowledged(
        &self,
        delivery: DeliveryFuture,
        destination: Destination,
        bytes: usize,
    ) -> Result<(), KafkaError> {
        let result = match delivery.await {
            Ok(Ok(_delivery)) => Ok(()),
            Ok(Err((error, _message))) => Err(error),
            // The producer dropped the record without a report: only on shutdown.
            Err(_canceled) => Err(KafkaError::Canceled),
        };
        match &result {
            Ok(()) => {
                self.metrics
                    .messages_produced
                    .with_label_values(&[destination.as_str()])
                    .inc();
                self.metrics
                    .bytes_produced
                    .with_label_values(&[destination.as_str()])
                    .inc_by(bytes as u64);
            }
            Err(_) => {
                self.metrics
                    .delivery_errors
                    .with_label_values(&[destination.as_str()])
                    .inc();
            }
        }
        result
    }

    pub fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        self.producer.flush(timeout)
    }
}

impl OutRecord {
    pub fn payload_len(&self) -> usize {
        self.payload.as_ref().map_or(0, Vec::len)
    }

    /// Value + key + headers: what `output.max_record_bytes` limits.
    pub fn size(&self) -> usize {
        self.payload_len()
            + self.key.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>()
    }
}

/// Produce errors that no retry can fix, with the reason to dead-letter under. Everything else
/// (timeouts, broker transport failures, leader changes, a full queue) is transient: retried.
pub fn permanent(error: &KafkaError) -> Option<RejectCode> {
    let code = match error {
        KafkaError::MessageProduction(code) => *code,
        _ => return None,
    };
    use RDKafkaErrorCode as C;
    match code {
        C::MessageSizeTooLarge | C::MessageBatchTooLarge | C::InvalidMessageSize => {
            Some(RejectCode::OutputTooLarge)
        }
        C::TopicAuthorizationFailed
        | C::ClusterAuthorizationFailed
        | C::InvalidRecord
        | C::InvalidMessage
        | C::InvalidTopic
        | C::InvalidRequiredAcks
        | C::PolicyViolation
        | C::UnsupportedForMessageFormat
        | C::UnknownTopic
        | C::InvalidArgument
        | C::BadMessage => Some(RejectCode::OutputRejected),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_produce_errors_are_classified() {
        let e = |c| KafkaError::MessageProduction(c);
        assert_eq!(
            permanent(&e(RDKafkaErrorCode::MessageSizeTooLarge)),
            Some(RejectCode::OutputTooLarge)
        );
        assert_eq!(
            permanent(&e(RDKafkaErrorCode::TopicAuthorizationFailed)),
            Some(RejectCode::OutputRejected)
        );
        assert_eq!(
            permanent(&e(RDKafkaErrorCode::InvalidRecord)),
            Some(RejectCode::OutputRejected)
        );
        assert_eq!(permanent(&e(RDKafkaErrorCode::MessageTimedOut)), None);
        assert_eq!(permanent(&e(RDKafkaErrorCode::QueueFull)), None);
        assert_eq!(permanent(&e(RDKafkaErrorCode::NotLeaderForPartition)), None);
        assert_eq!(permanent(&KafkaError::Canceled), None);
    }
}
