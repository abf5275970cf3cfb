//! The consume loop: receive → copy out ([`Inbound`]) → stages on the CPU pool → dedupe look-up
//! → enqueue on the producer → wait for the acknowledgement → store the offset.
//!
//! Invariants, and why they hold:
//! - **At-least-once.** An offset is stored only after the record(s) for that message were
//!   acknowledged by the broker. Each input partition has its own two ordered queues (a lane, see
//!   [`super::lanes`]), so results come out in input order per partition and an offset is never
//!   stored while an earlier message of its partition is still pending. A message given up on while stopping (a store outage, a broker that does not answer
//!   before the drain deadline) is *abandoned*: no offset of its partition at or above it is
//!   stored afterwards. librdkafka commits stored offsets (auto-commit, on rebalance, on close).
//!   If the process is killed at any point, the uncommitted tail is redelivered: duplicates,
//!   never loss.
//! - **Order.** Records are handed to the idempotent producer in input order per partition, so
//!   output order per input partition follows input order (a record that exhausts librdkafka's own retries and is
//!   re-sent by us is the one exception; see docs/delivery.md).
//! - **Bounded memory.** At most `processing.max_in_flight` messages and
//!   `processing.max_in_flight_bytes` bytes are between `recv` and their acknowledgement, counting
//!   those held back during a store outage; at the limit the loop stops fetching and librdkafka's
//!   bounded prefetch queue fills instead (backpressure). One partition may hold at most its
//!   share ([`lanes::share`]); beyond it that partition alone is paused, so a stuck partition
//!   (a slow article, an output partition without a leader) cannot take the others' budget.
//! - **Rebalances per partition.** A revoked partition's lane is dropped (its unfinished work is
//!   redone by the next owner from the last commit); the other lanes go on.
//! - **Bad input never stops the worker.** Nothing here reads message content in a way that can
//!   panic (headers are bytes; see [`Inbound`]). Rejections, and records the broker refuses for
//!   good (too large, not authorized, invalid), become dead-letter records; stage panics are
//!   caught in the pipeline. Only infrastructure failures that outlast their retries end the loop,
//!   and then the process exits non-zero.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, anyhow};
use rdkafka::Offset;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::producer::DeliveryFuture;
use rdkafka::topic_partition_list::TopicPartitionList;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::WorkerContext;
use super::dead_letter;
use super::inbound::Inbound;
use super::lanes::{self, Lanes, PartitionKey, Ready, Throttle};
use super::sink::{self, Destination, OutRecord, Sink};
use super::transaction::{Transactions, TxnError};
use crate::article::{Enriched, Provenance, SCHEMA_VERSION};
use crate::dedupe::{DedupeResult, Deduper, Fingerprint, StoreError};
use crate::error::{RejectCode, Rejection};
use crate::health::{Health, now_ms};
use crate::metrics::Metrics;
use crate::outcome::{self, Decision, Outcome, Policy};
use crate::settings::{DeliveryMode, Settings};
use crate::stage::{Pipeline, Processed};
use crate::telemetry::spawn_blocking_in_span;

/// Most processed messages whose store decisions are requested together (`decide_ahead`).
const DECISION_WINDOW: usize = 64;

/// Input headers carried to the output record (W3C trace context).
const TRACE_HEADERS: &[&[u8]] = &[b"traceparent", b"tracestate"];

type ProcessingFuture =
    futures::future::BoxFuture<'static, (Arc<Inbound>, Result<Processed, Rejection>)>;
type DeliveringFuture = futures::future::BoxFuture<'static, Delivered>;

/// A message whose records have been enqueued, with their acknowledgement results.
struct Delivered {
    message: Arc<Inbound>,
    results: Vec<(OutRecord, Result<(), KafkaError>)>,
}

/// Why a message's handling ended without its offset being stored.
enum Stop {
    /// Given up while stopping (shutdown or drain deadline): redelivered after restart.
    Abandoned,
    /// An infrastructure failure that outlasted its retries: the worker exits non-zero.
    Fatal(anyhow::Error),
    /// Exactly-once: the open transaction cannot commit (a record not acknowledged, a producer
    /// in an abortable state, a revoked partition): abort it and redo its work.
    Abort(anyhow::Error),
}

/// An abort the loop must carry out at its next turn.
struct Abort {
    reason: anyhow::Error,
    /// Counts towards `delivery.max_resends` aborts in a row. A revocation does not: a burst of
    /// rebalances is not a failure that repeats, and exiting on it would only add churn.
    counts: bool,
}

impl Flow {
    fn schedule_abort(&mut self, reason: anyhow::Error) {
        if self.abort.is_none() {
            self.abort = Some(Abort {
                reason,
                counts: true,
            });
        }
    }
}

impl From<TxnError> for Stop {
    fn from(error: TxnError) -> Self {
        match error {
            TxnError::Abort(error) => Stop::Abort(error),
            TxnError::Fatal(error) => Stop::Fatal(error),
        }
    }
}

impl From<anyhow::Error> for Stop {
    fn from(error: anyhow::Error) -> Self {
        Stop::Fatal(error)
    }
}

/// Everything between receipt and acknowledgement: the partitions' lanes, messages held back
/// during a store outage, and the partitions whose offsets may no longer move.
#[derive(Default)]
struct Flow {
    lanes: Lanes<ProcessingFuture, DeliveringFuture>,
    held: VecDeque<Arc<Inbound>>,
    held_bytes: usize,
    /// Lowest abandoned offset per input partition.
    abandoned: HashMap<PartitionKey, i64>,
    /// Exactly-once mode: the transaction bookkeeping ([`super::transaction`]).
    txn: Option<Transactions>,
    /// Exactly-once mode: why the open transaction must be aborted at the next turn.
    abort: Option<Abort>,
    /// Exactly-once mode: partitions revoked while a window of processed messages was being
    /// routed: the rest of that window's messages of them must not join a transaction.
    forgotten: std::collections::HashSet<PartitionKey>,
    /// Exactly-once mode: transactions aborted since the last commit.
    aborts_in_a_row: u32,
}

fn key_of(message: &Inbound) -> PartitionKey {
    (message.topic.clone(), message.partition)
}

impl Flow {
    /// Messages in flight, held ones included.
    fn count(&self) -> usize {
        self.lanes.len() + self.held.len()
    }

    fn bytes(&self) -> usize {
        self.lanes.bytes() + self.held_bytes
    }

    fn hold(&mut self, message: Arc<Inbound>) {
        self.received(&message);
        self.held_bytes += message.size();
        self.held.push_back(message);
    }

    fn unhold(&mut self) -> Option<Arc<Inbound>> {
        let message = self.held.pop_front()?;
        self.held_bytes = self.held_bytes.saturating_sub(message.size());
        Some(message)
    }

    /// A message entered the worker (a lane, or the held queue).
    fn received(&mut self, message: &Inbound) {
        if let Some(txn) = &mut self.txn {
            txn.received(&key_of(message), message.offset);
        }
    }

    /// Forget partitions that are no longer ours: their lanes, held messages and abandon marks.
    /// In exactly-once mode an open transaction may hold their records: it must abort.
    fn forget(&mut self, revoked: &[PartitionKey]) {
        for key in revoked {
            self.lanes.remove(key);
            self.abandoned.remove(key);
        }
        if let Some(txn) = &mut self.txn {
            txn.forget(revoked);
            self.forgotten.extend(revoked.iter().cloned());
            if txn.is_open() && self.abort.is_none() {
                self.abort = Some(Abort {
                    reason: anyhow!(
                        "{} partition(s) revoked while a transaction was open",
                        revoked.len()
                    ),
                    counts: false,
                });
            }
        }
        let before = self.held.len();
        self.held
            .retain(|message| !revoked.contains(&key_of(message)));
        if self.held.len() != before {
            self.held_bytes = self.held.iter().map(|message| message.size()).sum();
        }
    }

    /// Drop all unfinished work (an aborted transaction: it is read again after a rewind).
    fn clear(&mut self) {
        self.lanes.clear();
        self.held.clear();
        self.held_bytes = 0;
        self.abandoned.clear();
    }

    fn abandon(&mut self, message: &Inbound) {
        let slot = self
            .abandoned
            .entry((message.topic.clone(), message.partition))
            .or_insert(message.offset);
        *slot = (*slot).min(message.offset);
    }

    fn may_store(&self, message: &Inbound) -> bool {
        self.abandoned
            .get(&(message.topic.clone(), message.partition))
            .is_none_or(|&lowest| message.offset < lowest)
    }

    fn release(&mut self, message: &Inbound) {
        self.lanes.release(&key_of(message), message.size());
    }
}

pub struct Worker {
    pub settings: Arc<Settings>,
    pub consumer: Arc<StreamConsumer<WorkerContext>>,
    pub sink: Arc<Sink>,
    pub pipeline: Arc<Pipeline>,
    pub deduper: Option<Arc<Deduper>>,
    pub metrics: Metrics,
    pub health: Arc<Health>,
    /// Bounds how many articles run through the stages at once (`processing.worker_threads`).
    pub cpu: Arc<Semaphore>,
}

impl Worker {
    /// Run until `shutdown` is cancelled (then drain, commit and return `Ok`) or until an
    /// infrastructure failure outlasts its retries (then return `Err`, having committed only what
    /// was acknowledged).
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        self.consumer
            .subscribe(&[self.settings.topics.input.as_str()])
            .with_context(|| {
                format!(
                    "subscribing to topics.input `{}`",
                    self.settings.topics.input
                )
            })?;
        let mut flow = Flow::default();
        if self.settings.delivery.mode == DeliveryMode::ExactlyOnce {
            match self.start_transactions(&shutdown).await? {
                Some(txn) => flow.txn = Some(txn),
                None => return Ok(()),
            }
        }
        tracing::info!(message = "Worker started.", input = %self.settings.topics.input, output = %self.settings.topics.output, stages = ?self.pipeline.stage_names(), delivery = ?self.settings.delivery.mode);

        let max_in_flight = self.settings.processing.max_in_flight;
        let max_bytes = self.settings.processing.max_in_flight_bytes;
        let mut outcome: anyhow::Result<()> = Ok(());
        // Wakes the loop when nothing else does, so liveness sees it turn.
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

        loop {
            self.health.turned();
            self.forget_revoked(&mut flow);
            if let Some(abort) = flow.abort.take() {
                match self.abort_and_rewind(&mut flow, abort, &shutdown).await {
                    Ok(()) => continue,
                    Err(Stop::Fatal(error)) => {
                        outcome = Err(error);
                        break;
                    }
                    Err(_) => {
                        // Stopping before the abort went through: `finish` must not commit.
                        flow.schedule_abort(anyhow!("stopping while aborting a transaction"));
                        break;
                    }
                }
            }
            // Exactly-once: a due transaction stops taking new work into it; once everything it
            // enqueued is acknowledged, it commits.
            let barrier = flow.txn.as_ref().is_some_and(Transactions::due);
            if barrier && flow.lanes.delivering_len() == 0 {
                if let Err(Stop::Fatal(error)) = self.commit(&mut flow).await {
                    outcome = Err(error);
                    break;
                }
                continue;
            }
            let deadline = flow.txn.as_ref().and_then(Transactions::deadline);
            self.throttle(&mut flow);
            let active = flow.lanes.len();
            let count = flow.count();
            let bytes = flow.bytes();
            self.set_in_flight(count, bytes);
            // Messages held during a store outage go first, in order, once there is room.
            if active < max_in_flight
                && let Some(message) = flow.unhold()
            {
                self.start(&mut flow, message);
                continue;
            }
            let room = count < max_in_flight && bytes < max_bytes;
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                ready = flow.lanes.ready_if(!barrier) => match ready {
                    Ready::Delivered(delivered) => {
                        let message = Arc::clone(&delivered.message);
                        match self.complete(delivered, &mut flow, &shutdown).await {
                            Ok(()) => {}
                            Err(Stop::Abandoned) => { flow.abandon(&message); break; }
                            Err(Stop::Abort(reason)) => flow.schedule_abort(reason),
                            Err(Stop::Fatal(error)) => { outcome = Err(error); break; }
                        }
                    }
                    Ready::Processed(first) => {
                        // Every message whose stages are done (each partition's in input order)
                        // gets its store decision in one round trip (see `decide_ahead`).
                        let mut ready = vec![first];
                        ready.extend(flow.lanes.ready_processed(DECISION_WINDOW - 1));
                        match self.route_window(ready, &mut flow, &shutdown).await {
                            Ok(()) => {}
                            Err(Stop::Abort(reason)) => flow.schedule_abort(reason),
                            Err(Stop::Fatal(error)) => { outcome = Err(error); break; }
                            Err(Stop::Abandoned) => break,
                        }
                    }
                },
                received = self.consumer.recv(), if room => match received {
                    Ok(message) => {
                        let message = Arc::new(Inbound::from_borrowed(&message));
                        // Revocations that came with this `recv` are applied before its message
                        // joins a lane: it may belong to a partition assigned again just now.
                        self.forget_revoked(&mut flow);
                        self.metrics.messages_consumed.with_label_values(&[message.topic.as_str()]).inc();
                        self.metrics.bytes_consumed.with_label_values(&[message.topic.as_str()]).inc_by(message.payload.as_ref().map_or(0, Vec::len) as u64);
                        self.start(&mut flow, message);
                    }
                    Err(error) => {
                        self.metrics.kafka_errors.with_label_values(&["consumer"]).inc();
                        tracing::warn!(message = "Kafka read failed; retrying.", %error);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                _ = sleep_until(deadline), if deadline.is_some() && !barrier => {}
                _ = tick.tick() => {}
            }
        }

        // A fatal error stops at once (nothing after the failed message may be stored anyway);
        // otherwise finish what is in flight within the grace period. Either way, commit what
        // was acknowledged (exactly-once: commit the open transaction only after a clean drain).
        if outcome.is_ok() {
            self.drain(&mut flow).await;
        }
        self.finish(&mut flow, outcome.is_ok()).await;
        self.health.stopped.store(true, Ordering::Relaxed);
        outcome
    }

    /// Exactly-once: register the transactional producer, retrying while the broker cannot be
    /// reached. `None` on shutdown first.
    async fn start_transactions(
        &self,
        shutdown: &CancellationToken,
    ) -> anyhow::Result<Option<Transactions>> {
        let id = self
            .settings
            .delivery
            .transactional_id(&self.settings.kafka.group_id);
        let txn = Transactions::new(Arc::clone(&self.sink), &self.settings.delivery, id);
        let mut backoff = Duration::from_millis(self.settings.delivery.retry_backoff_ms);
        loop {
            match self.turning(txn.init(), shutdown).await {
                Err(_) => return Ok(None),
                Ok(Ok(())) => {
                    tracing::info!(message = "Exactly-once delivery: transactions initialized.", transactional_id = %txn.id());
                    return Ok(Some(txn));
                }
                Ok(Err(TxnError::Fatal(error))) => return Err(error),
                Ok(Err(TxnError::Abort(error))) => {
                    tracing::warn!(
                        message = "Initializing transactions failed; retrying.",
                        error = format!("{error:#}")
                    );
                    if self.backoff(&mut backoff, shutdown).await.is_err() {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Exactly-once: commit the open transaction (everything it enqueued is acknowledged). An
    /// abortable failure schedules the abort for the next turn.
    async fn commit(&self, flow: &mut Flow) -> Result<(), Stop> {
        let Some(txn) = &mut flow.txn else {
            return Ok(());
        };
        let started = std::time::Instant::now();
        // Not cut short by a shutdown: the call is bounded by the transaction timeout, and a
        // half-finished commit would leave nothing the drain could safely do.
        let never = CancellationToken::new();
        match self.turning(txn.commit(&self.consumer), &never).await? {
            Ok(()) => {
                self.metrics
                    .transaction_commit_duration
                    .observe(started.elapsed().as_secs_f64());
                self.metrics
                    .transactions
                    .with_label_values(&["committed"])
                    .inc();
                flow.aborts_in_a_row = 0;
                Ok(())
            }
            Err(TxnError::Abort(error)) => {
                flow.schedule_abort(error);
                Ok(())
            }
            Err(TxnError::Fatal(error)) => Err(Stop::Fatal(error)),
        }
    }

    /// Exactly-once: abort the open transaction, drop every unfinished message and read each
    /// partition again from its rewind point. Too many aborts in a row are fatal (the same
    /// failure keeps coming back: exit non-zero rather than spin).
    async fn abort_and_rewind(
        &self,
        flow: &mut Flow,
        abort: Abort,
        stop: &CancellationToken,
    ) -> Result<(), Stop> {
        let Abort { reason, counts } = abort;
        if counts {
            flow.aborts_in_a_row += 1;
        }
        let attempts = flow.aborts_in_a_row;
        tracing::warn!(
            message = "Aborting the transaction; its messages will be processed again.",
            reason = format!("{reason:#}"),
            aborts_in_a_row = attempts
        );
        self.metrics
            .transactions
            .with_label_values(&["aborted"])
            .inc();
        flow.clear();
        let Some(txn) = &mut flow.txn else {
            return Ok(());
        };
        let mut backoff = Duration::from_millis(self.settings.delivery.retry_backoff_ms);
        // Not cut short by a shutdown (bounded by the transaction timeout): a half-done abort
        // would leave the transaction open for `finish`.
        let never = CancellationToken::new();
        let mut failures = 0;
        let positions = loop {
            match self.turning(txn.abort(), &never).await? {
                Ok(positions) => break positions,
                Err(TxnError::Fatal(error)) => return Err(Stop::Fatal(error)),
                Err(TxnError::Abort(error)) => {
                    failures += 1;
                    if failures > self.settings.delivery.max_resends {
                        // The producer's state is unknown (e.g. a commit that timed out is still
                        // running): exit, and the next instance's `init_transactions` settles it.
                        return Err(Stop::Fatal(error.context(format!(
                            "the transaction could not be aborted after {failures} attempts"
                        ))));
                    }
                    tracing::warn!(
                        message = "Aborting the transaction failed; retrying.",
                        error = format!("{error:#}")
                    );
                    self.backoff(&mut backoff, stop).await?;
                }
            }
        };
        self.rewind(positions).await?;
        self.metrics.throttled_partitions.set(0);
        if !self.health.store_paused.load(Ordering::Relaxed) {
            // Partitions the loop had throttled were paused; their lanes are gone.
            match self.consumer.assignment() {
                Ok(assignment) => {
                    if let Err(error) = self.consumer.resume(&assignment) {
                        tracing::warn!(message = "Resuming partitions failed.", %error);
                    }
                }
                Err(error) => tracing::warn!(message = "Reading the assignment failed.", %error),
            }
        }
        if attempts > self.settings.delivery.max_resends {
            return Err(Stop::Fatal(anyhow!(
                "{attempts} transactions in a row aborted (delivery.max_resends = {}); last reason: {reason:#}",
                self.settings.delivery.max_resends
            )));
        }
        if attempts > 1 {
            // The same failure again: give the broker (or whatever failed) time.
            let mut wait = Duration::from_millis(self.settings.delivery.retry_backoff_ms)
                .saturating_mul(1 << (attempts - 2).min(16))
                .min(Duration::from_millis(
                    self.settings.delivery.retry_max_backoff_ms,
                ));
            self.backoff(&mut wait, stop).await?;
        }
        Ok(())
    }

    /// Seek each partition back to where its uncommitted messages start. A failed seek is fatal:
    /// fetching on from where the consumer is would skip the aborted messages, while a restart
    /// reads from the committed offsets.
    async fn rewind(&self, positions: Vec<(PartitionKey, i64)>) -> Result<(), Stop> {
        if positions.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in &positions {
            list.add_partition_offset(topic, *partition, Offset::Offset(*offset))
                .map_err(|e| anyhow!("rewinding {topic}/{partition}: {e}"))?;
        }
        let consumer = Arc::clone(&self.consumer);
        let sought = tokio::task::spawn_blocking(move || {
            consumer.seek_partitions(list, Duration::from_secs(10))
        })
        .await
        .map_err(|e| anyhow!("rewinding after an aborted transaction: {e}"))?
        .map_err(|e| anyhow!("rewinding after an aborted transaction: {e}; exiting so that a restart reads from the committed offsets"))?;
        for element in sought.elements() {
            if let Err(error) = element.error() {
                return Err(Stop::Fatal(anyhow!(
                    "rewinding {}/{} after an aborted transaction: {error}; exiting so that a restart reads from the committed offsets",
                    element.topic(),
                    element.partition()
                )));
            }
        }
        tracing::debug!(
            message = "Partitions rewound after an abort.",
            partitions = positions.len()
        );
        Ok(())
    }

    /// A received (or held) message enters its partition's lane and the stages.
    fn start(&self, flow: &mut Flow, message: Arc<Inbound>) {
        flow.received(&message);
        let key = key_of(&message);
        let size = message.size();
        flow.lanes
            .push_processing(&key, size, self.spawn_process(message));
    }

    /// Route a window of processed messages (each partition's in input order) and hand their
    /// records to the producer. On a stop, the message it happened at and every later one in the
    /// window are abandoned.
    async fn route_window(
        &self,
        ready: Vec<(Arc<Inbound>, Result<Processed, Rejection>)>,
        flow: &mut Flow,
        shutdown: &CancellationToken,
    ) -> Result<(), Stop> {
        let early = self.decide_ahead(&ready).await;
        flow.forgotten.clear();
        let mut items = ready.into_iter().zip(early);
        while let Some(((message, result), early)) = items.next() {
            // Checked only when something was revoked: `key_of` allocates, once per message.
            if !flow.forgotten.is_empty() && flow.forgotten.contains(&key_of(&message)) {
                // Revoked while this window waited (a store outage): not ours any more.
                continue;
            }
            let step = match self.route(&message, result, early, shutdown, flow).await {
                Ok(records) => match flow.txn.as_mut().map(Transactions::begin) {
                    Some(Err(error)) => Err(Stop::from(error)),
                    _ => {
                        self.enqueue_all(Arc::clone(&message), records, shutdown)
                            .await
                    }
                },
                Err(stop) => Err(stop),
            };
            match step {
                Ok(future) => {
                    let key = key_of(&message);
                    flow.lanes.push_delivering(&key, future);
                    // A message has at most one record (its enriched record or its dead
                    // letter), so a failed enqueue leaves nothing of it in the transaction and
                    // this is the only place its offset joins it.
                    if let Some(txn) = &mut flow.txn {
                        txn.enqueued(&key, message.offset);
                    }
                }
                Err(stop) => {
                    flow.abandon(&message);
                    for ((message, _), _) in items {
                        flow.abandon(&message);
                    }
                    return Err(stop);
                }
            }
        }
        Ok(())
    }

    /// Drop what the loop holds for partitions revoked since the last call (the rebalance
    /// callback runs inside `recv` and records them).
    fn forget_revoked(&self, flow: &mut Flow) {
        let revoked = self.consumer.context().take_revoked();
        if !revoked.is_empty() {
            tracing::debug!(
                message = "Dropping the work of revoked partitions.",
                partitions = revoked.len()
            );
            flow.forget(&revoked);
        }
    }

    /// Pause the partitions that hold their whole share of the in-flight budget and have not
    /// moved for [`lanes::STALL`], resume those that drained (not while the store outage pause holds every partition).
    fn throttle(&self, flow: &mut Flow) {
        let share = lanes::share(
            self.settings.processing.max_in_flight,
            self.health.assigned.load(Ordering::Relaxed),
        );
        let hold = self.health.store_paused.load(Ordering::Relaxed);
        for change in flow.lanes.throttle(share, lanes::STALL, hold) {
            let (pause, (topic, partition)) = match &change {
                Throttle::Pause(key) => (true, key),
                Throttle::Resume(key) => (false, key),
            };
            let mut list = TopicPartitionList::new();
            list.add_partition(topic, *partition);
            let result = if pause {
                self.consumer.pause(&list)
            } else {
                self.consumer.resume(&list)
            };
            match result {
                Ok(()) => {
                    self.metrics
                        .throttled_partitions
                        .add(if pause { 1 } else { -1 });
                    tracing::info!(message = if pause { "Partition paused: it holds its whole share of the in-flight budget." } else { "Partition resumed." }, %topic, partition, share);
                }
                // Typically revoked meanwhile; its lane goes with the revocation.
                Err(error) => {
                    tracing::debug!(message = "Pausing or resuming a partition failed.", %error, %topic, partition)
                }
            }
        }
    }

    /// After SIGTERM: take nothing new, finish what is in flight within the grace period. Any
    /// message given up on is abandoned: later offsets of its partition are not stored.
    async fn drain(&self, flow: &mut Flow) {
        let grace = Duration::from_millis(self.settings.shutdown.drain_timeout_ms);
        // Held messages were never started: they are redelivered.
        while let Some(message) = flow.unhold() {
            flow.abandon(&message);
        }
        tracing::info!(
            message = "Draining in-flight work.",
            in_flight = flow.lanes.len(),
            grace_ms = grace.as_millis() as u64
        );
        // Every wait below (store outage, full producer queue, re-send back-off) watches this
        // token, cancelled at the deadline, so the drain never outlasts its grace period.
        let give_up = CancellationToken::new();
        let _timer = {
            let give_up = give_up.clone();
            tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                give_up.cancel();
            }))
        };
        loop {
            self.health.turned();
            // A revocation seen here must not be committed over (exactly-once: it schedules the
            // abort that ends the drain).
            self.forget_revoked(flow);
            if flow.abort.is_some() {
                tracing::warn!(
                    message = "Drain stopped: the open transaction must be aborted; its messages will be redelivered."
                );
                return;
            }
            self.set_in_flight(flow.lanes.len(), flow.bytes());
            if flow.lanes.is_empty() {
                tracing::info!(message = "Drain complete.");
                return;
            }
            tokio::select! {
                biased;
                _ = give_up.cancelled() => {
                    tracing::warn!(message = "Drain grace period over; unfinished messages will be redelivered.", left = flow.lanes.len());
                    return;
                }
                ready = flow.lanes.ready() => match ready {
                    Ready::Delivered(delivered) => {
                        let message = Arc::clone(&delivered.message);
                        match self.complete(delivered, flow, &give_up).await {
                            Ok(()) => {}
                            Err(Stop::Abandoned) => flow.abandon(&message),
                            Err(Stop::Abort(reason)) => { flow.schedule_abort(reason); return; }
                            Err(Stop::Fatal(error)) => {
                                tracing::error!(message = "Giving up on a record during the drain; it will be redelivered.", error = format!("{error:#}"));
                                flow.abandon(&message);
                            }
                        }
                    }
                    Ready::Processed(processed) => {
                        if !flow.may_store(&processed.0) {
                            continue; // its partition already stopped: no point producing it
                        }
                        // On a stop the message is abandoned (later ones of its partition are
                        // then skipped above); an exactly-once abort ends the drain.
                        if let Err(Stop::Abort(reason)) = self.route_window(vec![processed], flow, &give_up).await {
                            flow.schedule_abort(reason);
                            return;
                        }
                    }
                },
            }
        }
    }

    /// Commit what was stored and flush the producer. Called on every exit path; each step is
    /// bounded in time, so an unreachable broker cannot hold the exit. Exactly-once: the open
    /// transaction is committed after a clean drain (`commit`), aborted otherwise.
    async fn finish(&self, flow: &mut Flow, commit: bool) {
        // Revocations since the last look: exactly-once, they forbid the commit.
        self.forget_revoked(flow);
        if let Some(txn) = &mut flow.txn {
            self.finish_transaction(txn, commit && flow.abort.is_none())
                .await;
        } else {
            self.commit_consumer().await;
        }
        let sink = Arc::clone(&self.sink);
        let flush = tokio::task::spawn_blocking(move || sink.flush(Duration::from_secs(10)));
        match tokio::time::timeout(Duration::from_secs(11), flush).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(message = "Producer flush failed.", %error),
            _ => tracing::warn!(message = "Producer flush did not finish in time."),
        }
    }

    async fn finish_transaction(&self, txn: &mut Transactions, commit: bool) {
        if !txn.is_open() {
            return;
        }
        if commit {
            match txn.commit(&self.consumer).await {
                Ok(()) => {
                    self.metrics
                        .transactions
                        .with_label_values(&["committed"])
                        .inc();
                    tracing::info!(message = "Final transaction committed.");
                    return;
                }
                Err(TxnError::Abort(error) | TxnError::Fatal(error)) => {
                    tracing::warn!(
                        message =
                            "Final transaction did not commit; its messages will be redelivered.",
                        error = format!("{error:#}")
                    );
                }
            }
        }
        self.metrics
            .transactions
            .with_label_values(&["aborted"])
            .inc();
        match txn.abort().await {
            Ok(_) => tracing::info!(
                message = "Open transaction aborted; its messages will be redelivered."
            ),
            // The broker aborts it after transaction_timeout_ms, or the next instance with the
            // same transactional.id at once.
            Err(TxnError::Abort(error) | TxnError::Fatal(error)) => {
                tracing::warn!(
                    message = "Aborting the open transaction failed; the broker will abort it.",
                    error = format!("{error:#}")
                )
            }
        }
    }

    /// At-least-once: commit the stored offsets.
    async fn commit_consumer(&self) {
        let consumer = Arc::clone(&self.consumer);
        let commit =
            tokio::task::spawn_blocking(move || consumer.commit_consumer_state(CommitMode::Sync));
        match tokio::time::timeout(Duration::from_secs(10), commit).await {
            Ok(Ok(Ok(()))) => tracing::info!(message = "Final offsets committed."),
            Ok(Ok(Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)))) => {
            }
            Ok(Ok(Err(error))) => {
                self.metrics.commit_failures.inc();
                tracing::warn!(message = "Final commit failed; uncommitted messages will be redelivered.", %error);
            }
            Ok(Err(error)) => tracing::warn!(message = "Final commit task failed.", %error),
            Err(_) => {
                self.metrics.commit_failures.inc();
                tracing::warn!(
                    message = "Final commit timed out; uncommitted messages will be redelivered."
                );
            }
        }
    }

    fn set_in_flight(&self, n: usize, bytes: usize) {
        self.metrics.in_flight.set(n as i64);
        self.metrics.in_flight_bytes.set(bytes as i64);
        self.health.in_flight.store(n, Ordering::Relaxed);
        let full = n >= self.settings.processing.max_in_flight
            || bytes >= self.settings.processing.max_in_flight_bytes;
        self.metrics.paused.set(i64::from(
            full || self.health.store_paused.load(Ordering::Relaxed),
        ));
        if let Some(deduper) = &self.deduper {
            self.metrics
                .breaker_open
                .set(i64::from(deduper.breaker_open()));
        }
    }

    /// Run the pipeline on the CPU pool: at most `processing.worker_threads` articles at once,
    /// each on a blocking thread so CPU work never sits on the async reactor. The message is
    /// shared so that even a panic outside the pipeline's own `catch_unwind` cannot lose it.
    fn spawn_process(&self, message: Arc<Inbound>) -> ProcessingFuture {
        let pipeline = Arc::clone(&self.pipeline);
        let for_task = Arc::clone(&message);
        let metrics = self.metrics.clone();
        let cpu = Arc::clone(&self.cpu);
        let span = tracing::debug_span!("article", topic = %message.topic, partition = message.partition, offset = message.offset);
        // A task of its own, started now: the article moves through the pool while the loop
        // waits elsewhere (a window of store decisions, a full producer queue). As a plain
        // future in `processing` it only advanced when the loop polled that queue, so the pool
        // ran dry during every such wait.
        let task = tokio::spawn(async move {
            // FIFO: articles enter the pool in the order they were received.
            let _permit = cpu.acquire_owned().await.ok();
            let handle = {
                let _guard = span.enter();
                spawn_blocking_in_span(move || {
                    let provenance = Provenance::message(
                        &for_task.topic,
                        for_task.partition,
                        for_task.offset,
                        for_task.timestamp_ms,
                    );
                    pipeline.process(for_task.payload.as_deref().unwrap_or_default(), provenance)
                })
            };
            handle.await
        });
        Box::pin(async move {
            let result = match task.await {
                Ok(Ok(result)) => result,
                Ok(Err(error)) | Err(error) => {
                    metrics.stage_errors.with_label_values(&["pipeline"]).inc();
                    Err(Rejection::new(
                        RejectCode::StagePanicked,
                        format!("processing task failed: {error}"),
                    )
                    .at("pipeline"))
                }
            };
            (message, result)
        })
    }

    /// The dead letter for `message`, fitted to `output.max_record_bytes`.
    fn dead_letter(&self, message: &Inbound, rejection: &Rejection) -> OutRecord {
        crate::events::article_rejected(
            &self.metrics,
            rejection,
            &message.topic,
            message.partition,
            message.offset,
        );
        dead_letter::record(
            &self.settings.topics.dead_letter,
            dead_letter::Source {
                topic: &message.topic,
                partition: message.partition,
                offset: message.offset,
                key: message.key.as_deref(),
                payload: message.payload.as_deref(),
                headers: message.headers_lossy(),
            },
            rejection,
            self.settings.output.max_record_bytes,
        )
    }

    /// Decide what to publish for one processed message, in input order. `Err(Abandoned)` means
    /// `stop` was cancelled while waiting for the dedupe store; the message is left for
    /// redelivery.
    /// `early` is the store's answer already obtained by [`Worker::decide_ahead`], if any.
    async fn route(
        &self,
        message: &Inbound,
        result: Result<Processed, Rejection>,
        early: Option<Result<DedupeResult, StoreError>>,
        stop: &CancellationToken,
        flow: &mut Flow,
    ) -> Result<Vec<OutRecord>, Stop> {
        if let Some(rejection) = flow
            .txn
            .as_mut()
            .and_then(|txn| txn.refusal(&key_of(message), message.offset))
        {
            // Refused for good by the broker in an aborted transaction: straight to the
            // dead-letter topic this time.
            return Ok(vec![self.dead_letter(message, &rejection)]);
        }
        let Processed { doc, fingerprint } = match result {
            Ok(processed) => processed,
            Err(rejection) => return Ok(vec![self.dead_letter(message, &rejection)]),
        };
        let decision = match (&self.deduper, fingerprint) {
            (Some(deduper), Some(fingerprint)) => {
                match self
                    .dedupe(deduper, &doc, &fingerprint, early, stop, flow)
                    .await?
                {
                    Ok(result) => Decision::Decided(result),
                    Err(rejection) => Decision::Refused(rejection),
                }
            }
            _ => Decision::None,
        };
        let outcome = outcome::decide(Ok(doc), decision, &Policy::new(&self.settings));
        if let Some((id, duplicate_of)) = outcome.duplicate() {
            crate::events::duplicate_found(
                &self.metrics,
                self.settings.dedupe.action,
                id,
                duplicate_of,
                origin_of(message),
            );
        }
        let (doc, destination) = match outcome {
            Outcome::Publish { doc, destination } => (doc, destination),
            Outcome::Drop { .. } => return Ok(Vec::new()),
            Outcome::DeadLetter(rejection) => {
                return Ok(vec![self.dead_letter(message, &rejection)]);
            }
        };
        let topic = match destination {
            Destination::Duplicates => &self.settings.topics.duplicates,
            _ => &self.settings.topics.output,
        };
        match output_record(*doc, message, topic, destination) {
            Ok(record) => Ok(vec![record]),
            Err(rejection) => Ok(vec![self.dead_letter(message, &rejection)]),
        }
    }

    /// The store decisions of a window of processed messages, requested together: each call's
    /// request goes out on its first poll, and `join_all` polls them in input order, so the
    /// requests reach the store in input order (one multiplexed Redis connection; the memory
    /// store decides on that first poll) and the decisions are those of one-by-one calls,
    /// while the loop waits one round trip per window instead of one per article. A message
    /// without a fingerprint gets `None`; so do all when there is nothing to gain (no store,
    /// one message).
    async fn decide_ahead(
        &self,
        ready: &[(Arc<Inbound>, Result<Processed, Rejection>)],
    ) -> Vec<Option<Result<DedupeResult, StoreError>>> {
        let none = || ready.iter().map(|_| None).collect();
        let Some(deduper) = &self.deduper else {
            return none();
        };
        if ready.len() < 2 {
            return none();
        }
        let started = std::time::Instant::now();
        let decisions = futures::future::join_all(ready.iter().map(|(_, result)| async move {
            match result {
                Ok(Processed {
                    doc,
                    fingerprint: Some(fingerprint),
                }) => Some(
                    deduper
                        .decide(&doc.id, fingerprint, doc.event_time_ms())
                        .await,
                ),
                _ => None,
            }
        }))
        .await;
        let seconds = started.elapsed().as_secs_f64();
        for _ in decisions.iter().flatten() {
            self.metrics.dedupe_store_duration.observe(seconds);
        }
        // An outage answer is dropped: `dedupe` asks again for that message, in order, and
        // pauses (fail_closed) only once for the whole window.
        decisions
            .into_iter()
            .map(|d| d.filter(|r| !r.as_ref().is_err_and(StoreError::is_outage)))
            .collect()
    }

    /// Look the fingerprint up. Under `fail_closed`, a store outage pauses consumption here until
    /// the store answers again; messages that arrive meanwhile are held (within the in-flight
    /// bounds), not dropped. A permanent store error for this article is a rejection
    /// (`store_rejected`), not an outage.
    async fn dedupe(
        &self,
        deduper: &Deduper,
        doc: &Enriched,
        fingerprint: &Fingerprint,
        mut early: Option<Result<DedupeResult, StoreError>>,
        stop: &CancellationToken,
        flow: &mut Flow,
    ) -> Result<Result<DedupeResult, Rejection>, Stop> {
        let mut backoff = Duration::from_millis(self.settings.delivery.retry_backoff_ms);
        let mut paused = false;
        loop {
            let result = match early.take() {
                Some(result) => result,
                None => {
                    let started = std::time::Instant::now();
                    let result = deduper
                        .decide(&doc.id, fingerprint, doc.event_time_ms())
                        .await;
                    self.metrics
                        .dedupe_store_duration
                        .observe(started.elapsed().as_secs_f64());
                    result
                }
            };
            match result {
                Ok(decision) => {
                    if decision.store_error {
                        self.metrics
                            .dedupe_store_errors
                            .with_label_values(&["fail_open"])
                            .inc();
                    }
                    self.health
                        .store_ok
                        .store(!decision.store_error, Ordering::Relaxed);
                    self.metrics
                        .up
                        .with_label_values(&["dedupe_store"])
                        .set(if decision.store_error { 0.0 } else { 1.0 });
                    if paused {
                        self.resume_after_outage(flow);
                    }
                    if let Some(n) = deduper.entries() {
                        self.metrics.dedupe_entries.set(n as i64);
                    }
                    if let Some(n) = deduper.approx_bytes() {
                        self.metrics.dedupe_bytes.set(n as i64);
                    }
                    return Ok(Ok(decision));
                }
                Err(error) if !error.is_outage() => {
                    if paused {
                        self.resume_after_outage(flow);
                    }
                    self.metrics
                        .dedupe_store_errors
                        .with_label_values(&["fail_closed"])
                        .inc();
                    return Ok(Err(outcome::store_refused(&error)));
                }
                Err(error) => {
                    self.metrics
                        .dedupe_store_errors
                        .with_label_values(&["fail_closed"])
                        .inc();
                    self.metrics
                        .up
                        .with_label_values(&["dedupe_store"])
                        .set(0.0);
                    self.health.store_ok.store(false, Ordering::Relaxed);
                    if !paused {
                        tracing::error!(message = "Dedupe store unavailable; pausing consumption (on_store_error = fail_closed).", %error);
                        // Set first: partitions assigned from now on are paused by the
                        // rebalance callback.
                        self.health.store_paused.store(true, Ordering::Relaxed);
                        self.metrics.paused.set(1);
                        match self.consumer.assignment() {
                            Ok(assignment) => {
                                if let Err(error) = self.consumer.pause(&assignment) {
                                    tracing::warn!(message = "Pausing partitions failed.", %error);
                                }
                            }
                            Err(error) => {
                                tracing::warn!(message = "Reading the assignment failed.", %error)
                            }
                        }
                        paused = true;
                    }
                    self.wait_paused(backoff, stop, flow).await?;
                    backoff = (backoff * 2).min(Duration::from_millis(
                        self.settings.delivery.retry_max_backoff_ms,
                    ));
                }
            }
        }
    }

    fn resume_after_outage(&self, flow: &mut Flow) {
        self.health.store_paused.store(false, Ordering::Relaxed);
        // Resuming the whole assignment also resumes partitions the loop had throttled; the
        // next turn pauses again those that are still full.
        flow.lanes.forget_throttles();
        self.metrics.throttled_partitions.set(0);
        match self.consumer.assignment() {
            Ok(assignment) => {
                if let Err(error) = self.consumer.resume(&assignment) {
                    tracing::warn!(message = "Resuming partitions failed.", %error);
                }
            }
            Err(error) => tracing::warn!(message = "Reading the assignment failed.", %error),
        }
        tracing::info!(message = "Dedupe store is back; consumption resumed.");
    }

    /// While paused: keep polling so the group membership stays alive (rebalance callbacks run
    /// inside `recv`). Anything already fetched is held in order while the in-flight bounds
    /// allow; a message beyond them is let go and its partition rewound to it, so it is fetched
    /// again after the pause instead of filling memory.
    async fn wait_paused(
        &self,
        backoff: Duration,
        stop: &CancellationToken,
        flow: &mut Flow,
    ) -> Result<(), Stop> {
        let sleep = tokio::time::sleep(backoff);
        tokio::pin!(sleep);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            self.health.turned();
            tokio::select! {
                _ = stop.cancelled() => return Err(Stop::Abandoned),
                _ = &mut sleep => return Ok(()),
                _ = tick.tick() => {}
                received = self.consumer.recv() => if let Ok(message) = received {
                    let message = Inbound::from_borrowed(&message);
                    self.forget_revoked(flow);
                    let count = flow.count() + 1;
                    let full = count > self.settings.processing.max_in_flight
                        || flow.bytes() + message.size() > self.settings.processing.max_in_flight_bytes;
                    if full {
                        self.consumer
                            .seek(&message.topic, message.partition, Offset::Offset(message.offset), Duration::ZERO)
                            .map_err(|error| anyhow!("rewinding {}/{} to offset {} while paused: {error}", message.topic, message.partition, message.offset))?;
                    } else {
                        flow.hold(Arc::new(message));
                    }
                },
            }
        }
    }

    /// Hand the records to the producer in order and return a future of their acknowledgements.
    /// A record the producer refuses for good is replaced by a dead letter for its message.
    async fn enqueue_all(
        &self,
        message: Arc<Inbound>,
        records: Vec<OutRecord>,
        stop: &CancellationToken,
    ) -> Result<DeliveringFuture, Stop> {
        let mut pending: Vec<(OutRecord, DeliveryFuture)> = Vec::with_capacity(records.len());
        for record in records {
            let record = self.fit(&message, record);
            let delivery = match self.send(&record, stop).await {
                Ok(delivery) => delivery,
                Err(SendError::Permanent(code, error)) => {
                    let dead = self.refused(&message, &record, code, &error)?;
                    match self.send(&dead, stop).await {
                        Ok(delivery) => {
                            pending.push((dead, delivery));
                            continue;
                        }
                        Err(error) => return Err(self.dead_letter_failed(&message, error)),
                    }
                }
                Err(SendError::Stop(stop)) => return Err(stop),
            };
            pending.push((record, delivery));
        }
        let sink = Arc::clone(&self.sink);
        Ok(Box::pin(async move {
            let mut results = Vec::with_capacity(pending.len());
            for (record, delivery) in pending {
                let result = sink
                    .acknowledged(delivery, record.destination, record.payload_len())
                    .await;
                results.push((record, result));
            }
            Delivered { message, results }
        }))
    }

    /// An enriched record over `output.max_record_bytes` becomes a dead letter before the
    /// producer sees it (dead letters are fitted when built).
    fn fit(&self, message: &Inbound, record: OutRecord) -> OutRecord {
        let max = self.settings.output.max_record_bytes;
        if record.destination == Destination::DeadLetter || record.size() <= max {
            return record;
        }
        let rejection = Rejection::new(
            RejectCode::OutputTooLarge,
            format!(
                "the enriched record is {} bytes, the limit (output.max_record_bytes) is {max}",
                record.size()
            ),
        )
        .at("output");
        self.dead_letter(message, &rejection)
    }

    /// The dead letter that replaces a record refused for good; a refused dead letter is fatal.
    fn refused(
        &self,
        message: &Inbound,
        record: &OutRecord,
        code: RejectCode,
        error: &KafkaError,
    ) -> Result<OutRecord, Stop> {
        if record.destination == Destination::DeadLetter {
            return Err(self.dead_letter_failed(message, SendError::Permanent(code, error.clone())));
        }
        Ok(self.dead_letter(message, &self.refusal(record, code, error)))
    }

    /// Why a record the broker refused for good is dead-lettered.
    fn refusal(&self, record: &OutRecord, code: RejectCode, error: &KafkaError) -> Rejection {
        Rejection::new(
            code,
            format!(
                "the broker refused the record for topic `{}`: {error}",
                record.topic
            ),
        )
        .at("output")
    }

    fn dead_letter_failed(&self, message: &Inbound, error: SendError) -> Stop {
        match error {
            SendError::Stop(stop) => stop,
            SendError::Permanent(_, error) => Stop::Fatal(anyhow!(
                "the dead-letter topic `{}` refused the dead letter for {}/{}/{}: {error}; stopping without committing it",
                self.settings.topics.dead_letter,
                message.topic,
                message.partition,
                message.offset
            )),
        }
    }

    /// Enqueue one record, retrying transient refusals with back-off; gives up when `stop` is
    /// cancelled (abandon) or after `delivery.max_resends` attempts (fatal).
    async fn send(
        &self,
        record: &OutRecord,
        stop: &CancellationToken,
    ) -> Result<DeliveryFuture, SendError> {
        let mut backoff = Duration::from_millis(self.settings.delivery.retry_backoff_ms);
        let mut attempt = 0;
        loop {
            let health = &self.health;
            match self.sink.enqueue(record, stop, || health.turned()).await {
                Ok(delivery) => return Ok(delivery),
                Err(KafkaError::Canceled) => return Err(SendError::Stop(Stop::Abandoned)),
                Err(error) => {
                    if let Some(code) = sink::permanent(&error) {
                        return Err(SendError::Permanent(code, error));
                    }
                    if self.settings.delivery.mode == DeliveryMode::ExactlyOnce {
                        // Typically the transaction is already in an abortable state; retrying
                        // inside it cannot help.
                        return Err(SendError::Stop(Stop::Abort(anyhow!(
                            "the producer refused a record for topic `{}`: {error}",
                            record.topic
                        ))));
                    }
                    if attempt >= self.settings.delivery.max_resends {
                        return Err(SendError::Stop(Stop::Fatal(anyhow!(
                            "cannot hand a record for topic `{}` to the producer: {error}",
                            record.topic
                        ))));
                    }
                    attempt += 1;
                    self.metrics
                        .kafka_errors
                        .with_label_values(&["producer"])
                        .inc();
                    tracing::warn!(message = "Producer refused a record; retrying.", %error, topic = %record.topic, attempt);
                    self.backoff(&mut backoff, stop)
                        .await
                        .map_err(SendError::Stop)?;
                }
            }
        }
    }

    /// Await `work` (an acknowledgement can take `delivery.message_timeout_ms`) while telling
    /// liveness that the loop still turns; give up when `stop` is cancelled.
    async fn turning<T>(
        &self,
        work: impl std::future::Future<Output = T>,
        stop: &CancellationToken,
    ) -> Result<T, Stop> {
        tokio::pin!(work);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            self.health.turned();
            tokio::select! {
                _ = stop.cancelled() => return Err(Stop::Abandoned),
                _ = tick.tick() => {}
                out = &mut work => return Ok(out),
            }
        }
    }

    async fn backoff(&self, backoff: &mut Duration, stop: &CancellationToken) -> Result<(), Stop> {
        self.turning(tokio::time::sleep(*backoff), stop).await?;
        *backoff = (*backoff * 2).min(Duration::from_millis(
            self.settings.delivery.retry_max_backoff_ms,
        ));
        Ok(())
    }

    /// All records of the oldest in-flight message are settled: re-send transient failures (in
    /// order), dead-letter permanent ones, then store the offset unless its partition was
    /// abandoned. An `Err` means the message could not be settled: its offset is not stored.
    async fn complete(
        &self,
        delivered: Delivered,
        flow: &mut Flow,
        stop: &CancellationToken,
    ) -> Result<(), Stop> {
        let Delivered { message, results } = delivered;
        flow.release(&message);
        if flow.txn.is_some() {
            return self.complete_in_transaction(&message, results, flow);
        }
        for (record, result) in results {
            let Err(error) = result else { continue };
            if let Some(code) = sink::permanent(&error) {
                let dead = self.refused(&message, &record, code, &error)?;
                self.resend(&message, dead, stop).await?;
            } else {
                tracing::warn!(message = "Record not acknowledged; re-sending.", %error, topic = %record.topic, source_partition = message.partition, source_offset = message.offset);
                self.resend(&message, record, stop).await?;
            }
        }
        if flow.may_store(&message)
            && let Err(error) =
                self.consumer
                    .store_offset(&message.topic, message.partition, message.offset)
        {
            // Typically the partition was revoked meanwhile: its new owner re-reads from the
            // last commit, so at-least-once still holds.
            tracing::debug!(message = "Offset not stored.", %error, topic = %message.topic, partition = message.partition, offset = message.offset);
        }
        self.settled(&message);
        Ok(())
    }

    /// Exactly-once: a record that was not acknowledged makes the transaction abortable; it is
    /// never re-sent inside it. Its offset is not stored: the commit carries it.
    fn complete_in_transaction(
        &self,
        message: &Inbound,
        results: Vec<(OutRecord, Result<(), KafkaError>)>,
        flow: &mut Flow,
    ) -> Result<(), Stop> {
        for (record, result) in results {
            let Err(error) = result else { continue };
            if let Some(code) = sink::permanent(&error)
                && let Some(txn) = &mut flow.txn
            {
                if record.destination == Destination::DeadLetter {
                    return Err(self.dead_letter_failed(message, SendError::Permanent(code, error)));
                }
                if txn.refuse(
                    &key_of(message),
                    message.offset,
                    self.refusal(&record, code, &error),
                ) {
                    // Progress, not a repeating failure: the next attempt dead-letters it.
                    flow.aborts_in_a_row = 0;
                }
            }
            return Err(Stop::Abort(anyhow!(
                "a record for topic `{}` (from {}/{}/{}) was not acknowledged: {error}",
                record.topic,
                message.topic,
                message.partition,
                message.offset
            )));
        }
        self.settled(message);
        Ok(())
    }

    /// Bookkeeping once a message is settled: latency, progress, health.
    fn settled(&self, message: &Inbound) {
        if let Some(ts) = message.timestamp_ms {
            let seconds = (now_ms() - ts).max(0) as f64 / 1000.0;
            self.metrics.end_to_end.observe(seconds);
        }
        self.metrics.last_progress.set(now_ms() as f64 / 1000.0);
        self.health.progress();
        self.health.broker_seen();
    }

    /// Send one record again until acknowledged. A permanent refusal of an enriched record turns
    /// it into a dead letter (sent the same way); of a dead letter, it is fatal.
    async fn resend(
        &self,
        message: &Inbound,
        mut record: OutRecord,
        stop: &CancellationToken,
    ) -> Result<(), Stop> {
        let mut backoff = Duration::from_millis(self.settings.delivery.retry_backoff_ms);
        for attempt in 1..=self.settings.delivery.max_resends {
            self.backoff(&mut backoff, stop).await?;
            self.metrics
                .resends
                .with_label_values(&[record.destination.as_str()])
                .inc();
            let delivery = match self.send(&record, stop).await {
                Ok(delivery) => delivery,
                Err(SendError::Stop(stop)) => return Err(stop),
                Err(SendError::Permanent(code, error)) => {
                    record = self.refused(message, &record, code, &error)?;
                    continue;
                }
            };
            let acknowledged = self
                .turning(
                    self.sink
                        .acknowledged(delivery, record.destination, record.payload_len()),
                    stop,
                )
                .await?;
            match acknowledged {
                Ok(()) => return Ok(()),
                Err(error) => {
                    tracing::warn!(message = "Re-send failed.", %error, topic = %record.topic, attempt);
                    if let Some(code) = sink::permanent(&error) {
                        record = self.refused(message, &record, code, &error)?;
                    }
                }
            }
        }
        Err(Stop::Fatal(anyhow!(
            "giving up: a record for topic `{}` was not acknowledged after {} re-sends; stopping without committing it",
            record.topic,
            self.settings.delivery.max_resends
        )))
    }
}

/// Why a record could not be handed to the producer.
enum SendError {
    /// The producer or broker refused it for good, with the reason to dead-letter under.
    Permanent(RejectCode, KafkaError),
    Stop(Stop),
}

/// Wait until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => futures::future::pending().await,
    }
}

fn origin_of(message: &Inbound) -> crate::events::Origin<'_> {
    crate::events::Origin {
        topic: &message.topic,
        partition: message.partition,
        offset: message.offset,
    }
}

/// The enriched record: JSON value, keyed by article id, with schema headers and trace context.
fn output_record(
    doc: Enriched,
    message: &Inbound,
    topic: &str,
    destination: Destination,
) -> Result<OutRecord, Rejection> {
    let payload = outcome::encode(&doc)?;
    let mut headers = vec![
        ("content-type".to_owned(), b"application/json".to_vec()),
        (
            "wiredesk-schema".to_owned(),
            SCHEMA_VERSION.as_bytes().to_vec(),
        ),
        (
            "wiredesk-version".to_owned(),
            env!("CARGO_PKG_VERSION").as_bytes().to_vec(),
        ),
    ];
    for (key, value) in &message.headers {
        if TRACE_HEADERS.contains(&key.to_ascii_lowercase().as_slice()) {
            headers.push((String::from_utf8_lossy(key).into_owned(), value.clone()));
        }
    }
    Ok(OutRecord {
        destination,
        topic: topic.to_owned(),
        key: Some(doc.id.into_bytes()),
        payload: Some(payload),
        headers,
    })
}
