//! The producer side: records are enqueued in input order and acknowledged asynchronously. The
//! producer is idempotent with `acks=all`, so librdkafka's own retries neither duplicate nor
//! reorder records within a partition.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};

use super::WorkerContext;
use crate::metrics::Metrics;

/// Which topic role a record goes to; a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Destination {
    Output,
    DeadLetter,
    Duplicates,
}

impl Destination {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Output => "output",
            Self::DeadLetter => "dead_letter",
            Self::Duplicates => "duplicates",
        }
    }
}

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
    /// full, wait and try again: that is backpressure, not an error.
    pub async fn enqueue(&self, record: &OutRecord) -> Result<DeliveryFuture, KafkaError> {
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
                    tokio::time::sleep(Duration::from_millis(20)).await;
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
}
