//! Exactly-once delivery (`delivery.mode = "exactly_once"`): the consume → transform → produce
//! loop runs in Kafka transactions that carry the output, dead-letter and duplicates records
//! *and* the input offsets (`send_offsets_to_transaction` with the group's metadata), so a
//! `read_committed` reader sees either all of a transaction or none of it.
//!
//! The bookkeeping, and why it is enough:
//! - A transaction begins at the first record enqueued after the last commit. Each input message
//!   whose records were enqueued in it moves its partition's *pending* offset (the next offset to
//!   read). Records are enqueued in input order per partition, so the pending offsets always
//!   cover a prefix of what each partition delivered: never a message whose records are not in.
//! - The loop commits when the transaction is `due` (interval or size), after every enqueued
//!   record was acknowledged, so a commit never waits on work that is still in the stages.
//! - Every partition has a *rewind* point: the offset it is read again from if the transaction
//!   aborts (its last committed position, or the first offset received since). An abort drops all
//!   in-flight work and seeks every partition back there, so the redelivered messages are
//!   processed again and the dedupe store's replay-by-id returns the decisions already made.
//! - A record the broker refuses for good inside a transaction cannot be dead-lettered in the
//!   same (now abortable) transaction: the refusal is remembered by input offset, the transaction
//!   aborts, and the redelivered message goes straight to the dead-letter topic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use rdkafka::Offset;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::Producer;
use rdkafka::topic_partition_list::TopicPartitionList;

use super::WorkerContext;
use super::lanes::PartitionKey;
use super::sink::Sink;
use crate::error::Rejection;
use crate::settings::DeliverySettings;

/// How a transactional call failed.
#[derive(Debug)]
pub enum TxnError {
    /// The transaction cannot commit: abort it and redo its work.
    Abort(anyhow::Error),
    /// The producer is unusable (fenced by a newer instance with the same `transactional.id`, or
    /// another fatal error): exit non-zero without committing.
    Fatal(anyhow::Error),
}

/// Most times one transactional call is repeated when librdkafka says it may be retried.
const CALL_ATTEMPTS: u32 = 3;

pub struct Transactions {
    sink: Arc<Sink>,
    id: String,
    timeout: Duration,
    interval: Duration,
    max_messages: usize,
    /// When the open transaction began; `None` when none is open.
    began: Option<Instant>,
    messages: usize,
    pending: HashMap<PartitionKey, i64>,
    rewind: HashMap<PartitionKey, i64>,
    refused: HashMap<(PartitionKey, i64), Rejection>,
}

impl Transactions {
    pub fn new(sink: Arc<Sink>, delivery: &DeliverySettings, id: String) -> Self {
        Transactions {
            sink,
            id,
            // Each broker-side step (init, offsets, commit, abort) gets the transaction timeout:
            // librdkafka itself bounds them by it.
            timeout: Duration::from_millis(delivery.transaction_timeout_ms),
            interval: Duration::from_millis(delivery.transaction_interval_ms),
            max_messages: delivery.transaction_max_messages,
            began: None,
            messages: 0,
            pending: HashMap::new(),
            rewind: HashMap::new(),
            refused: HashMap::new(),
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// Register with the transaction coordinator: fences any older producer with the same id and
    /// aborts the transaction it left open. Blocking; run off the async threads.
    pub async fn init(&self) -> Result<(), TxnError> {
        let timeout = self.timeout;
        self.call("initializing transactions", move |p| {
            p.init_transactions(timeout)
        })
        .await
    }

    pub fn is_open(&self) -> bool {
        self.began.is_some()
    }

    /// Whether the open transaction should be committed now.
    pub fn due(&self) -> bool {
        self.began
            .is_some_and(|t| self.messages >= self.max_messages || t.elapsed() >= self.interval)
    }

    /// When the open transaction becomes due by time.
    pub fn deadline(&self) -> Option<tokio::time::Instant> {
        self.began
            .map(|t| tokio::time::Instant::from_std(t + self.interval))
    }

    /// A message was received (or held): its partition is read again from here at the latest.
    pub fn received(&mut self, key: &PartitionKey, offset: i64) {
        self.rewind.entry(key.clone()).or_insert(offset);
    }

    /// Open a transaction if none is open (a local step: no broker round trip).
    pub fn begin(&mut self) -> Result<(), TxnError> {
        if self.began.is_some() {
            return Ok(());
        }
        self.sink
            .producer()
            .begin_transaction()
            .map_err(|e| classify("beginning a transaction", e))?;
        self.began = Some(Instant::now());
        self.messages = 0;
        Ok(())
    }

    /// All records of the message at `offset` are in the open transaction.
    pub fn enqueued(&mut self, key: &PartitionKey, offset: i64) {
        self.pending.insert(key.clone(), offset + 1);
        self.messages += 1;
    }

    /// The broker refused a record of this message for good: dead-letter it when redelivered.
    /// `true` if this refusal is new.
    pub fn refuse(&mut self, key: &PartitionKey, offset: i64, rejection: Rejection) -> bool {
        self.refused
            .insert((key.clone(), offset), rejection)
            .is_none()
    }

    /// The refusal remembered for this message, if any. Kept until a commit covers the
    /// message: the transaction carrying its dead letter may abort too (another refused
    /// record in it), and the next attempt must dead-letter it again.
    pub fn refusal(&self, key: &PartitionKey, offset: i64) -> Option<Rejection> {
        self.refused.get(&(key.clone(), offset)).cloned()
    }

    /// Partitions no longer ours: nothing of them is rewound or committed any more.
    pub fn forget(&mut self, revoked: &[PartitionKey]) {
        for key in revoked {
            self.rewind.remove(key);
            self.pending.remove(key);
            self.refused.retain(|(k, _), _| k != key);
        }
    }

    /// Send the pending offsets with the group's metadata and commit. On success every committed
    /// partition's rewind point moves to its new position.
    pub async fn commit(
        &mut self,
        consumer: &StreamConsumer<WorkerContext>,
    ) -> Result<(), TxnError> {
        if self.began.is_none() {
            return Ok(());
        }
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), next) in &self.pending {
            offsets
                .add_partition_offset(topic, *partition, Offset::Offset(*next))
                .map_err(|e| {
                    TxnError::Abort(anyhow!("listing offsets {topic}/{partition}: {e}"))
                })?;
        }
        let group = consumer.group_metadata().ok_or_else(|| {
            TxnError::Abort(anyhow!(
                "the consumer has no group metadata (not in the group)"
            ))
        })?;
        let timeout = self.timeout;
        if offsets.count() > 0 {
            self.call("sending offsets to the transaction", move |p| {
                p.send_offsets_to_transaction(&offsets, &group, timeout)
            })
            .await?;
        }
        self.call("committing the transaction", move |p| {
            p.commit_transaction(timeout)
        })
        .await?;
        for (key, next) in self.pending.drain() {
            self.refused
                .retain(|(k, offset), _| k != &key || *offset >= next);
            self.rewind.insert(key, next);
        }
        self.began = None;
        self.messages = 0;
        Ok(())
    }

    /// Abort the open transaction (its records are never visible to `read_committed` readers)
    /// and return where each partition must be read again from.
    pub async fn abort(&mut self) -> Result<Vec<(PartitionKey, i64)>, TxnError> {
        if self.began.is_some() {
            let timeout = self.timeout;
            self.call("aborting the transaction", move |p| {
                p.abort_transaction(timeout)
            })
            .await?;
        }
        self.began = None;
        self.messages = 0;
        self.pending.clear();
        Ok(self.rewind.iter().map(|(k, o)| (k.clone(), *o)).collect())
    }

    /// Run one blocking transactional call on the blocking pool, repeating it while librdkafka
    /// says it is retriable.
    async fn call(
        &self,
        what: &'static str,
        op: impl Fn(&rdkafka::producer::FutureProducer<WorkerContext>) -> Result<(), KafkaError>
        + Send
        + 'static,
    ) -> Result<(), TxnError> {
        let producer = self.sink.producer().clone();
        let id = self.id.clone();
        let joined = tokio::task::spawn_blocking(move || {
            let mut attempt = 1;
            loop {
                match op(&producer) {
                    Ok(()) => return Ok(()),
                    Err(KafkaError::Transaction(e))
                        if e.is_retriable() && !e.is_fatal() && attempt < CALL_ATTEMPTS =>
                    {
                        tracing::warn!(message = "Transactional call failed; retrying.", what, error = %e, attempt);
                        attempt += 1;
                    }
                    Err(e) => return Err(e),
                }
            }
        })
        .await
        .map_err(|e| TxnError::Fatal(anyhow!("{what}: the blocking task failed: {e}")))?;
        joined.map_err(|e| match classify(what, e) {
            TxnError::Fatal(error) => TxnError::Fatal(error.context(format!(
                "exactly-once producer `transactional.id = {id}` can no longer be used (fenced: another instance uses the same id, or a newer one took over)"
            ))),
            abort => abort,
        })
    }
}

/// Fatal errors end the producer; everything else (abortable, or a timeout whose outcome the
/// next abort settles) aborts the transaction and redoes its work.
fn classify(what: &str, error: KafkaError) -> TxnError {
    let fatal = match &error {
        KafkaError::Transaction(e) => e.is_fatal(),
        _ => false,
    };
    let error = anyhow!("{what}: {error}");
    if fatal {
        TxnError::Fatal(error)
    } else {
        TxnError::Abort(error)
    }
}
