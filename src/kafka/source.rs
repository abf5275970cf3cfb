//! The consume loop: receive → detach → stages on a blocking thread → dedupe look-up → enqueue on
//! the producer → wait for the acknowledgement → store the offset.
//!
//! Invariants, and why they hold:
//! - **At-least-once.** An offset is stored only after the record(s) for that message were
//!   acknowledged by the broker. Both queues below are `FuturesOrdered`, so results come out in
//!   input order and an offset is never stored while an earlier message of its partition is still
//!   pending. librdkafka commits stored offsets (auto-commit, on rebalance, on close). If the
//!   process is killed at any point, the uncommitted tail is redelivered: duplicates, never loss.
//! - **Order.** Records are handed to the idempotent producer in input order, so output order per
//!   input partition follows input order (a record that exhausts librdkafka's own retries and is
//!   re-sent by us is the one exception; see README "Delivery semantics").
//! - **Bounded memory.** At most `processing.max_in_flight` messages are between `recv` and their
//!   acknowledgement; at the limit the loop stops fetching and librdkafka's bounded prefetch queue
//!   fills instead (backpressure).
//! - **Bad input never stops the worker.** Rejections become dead-letter records; stage panics are
//!   caught in the pipeline. Only infrastructure failures that outlast their retries end the loop.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use futures::stream::FuturesOrdered;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message, OwnedMessage};
use rdkafka::producer::DeliveryFuture;
use tokio_util::sync::CancellationToken;

use super::WorkerContext;
use super::dead_letter;
use super::sink::{Destination, OutRecord, Sink};
use crate::article::{Enriched, Provenance, SCHEMA_VERSION};
use crate::dedupe::{DedupeStatus, Deduper, DuplicateAction};
use crate::error::Rejection;
use crate::http::Health;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::stage::{Pipeline, Processed};
use crate::telemetry::spawn_blocking_in_span;

/// Input headers carried to the output record (W3C trace context).
const TRACE_HEADERS: &[&str] = &["traceparent", "tracestate"];

type ProcessingFuture =
    futures::future::BoxFuture<'static, (Arc<OwnedMessage>, Result<Processed, Rejection>)>;
type DeliveringFuture = futures::future::BoxFuture<'static, Delivered>;

/// A message whose records have been enqueued, with their acknowledgement results.
struct Delivered {
    message: Arc<OwnedMessage>,
    results: Vec<(OutRecord, Result<(), rdkafka::error::KafkaError>)>,
}

pub struct Worker {
    pub settings: Arc<Settings>,
    pub consumer: StreamConsumer<WorkerContext>,
    pub sink: Arc<Sink>,
    pub pipeline: Arc<Pipeline>,
    pub deduper: Option<Arc<Deduper>>,
    pub metrics: Metrics,
    pub health: Arc<Health>,
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
        tracing::info!(message = "Worker started.", input = %self.settings.topics.input, output = %self.settings.topics.output, stages = ?self.pipeline.stage_names());

        let max_in_flight = self.settings.processing.max_in_flight;
        let mut processing: FuturesOrdered<ProcessingFuture> = FuturesOrdered::new();
        let mut delivering: FuturesOrdered<DeliveringFuture> = FuturesOrdered::new();
        // Messages received while the dedupe store was down (fail_closed); processed first on recovery.
        let mut held: VecDeque<OwnedMessage> = VecDeque::new();
        let mut outcome: anyhow::Result<()> = Ok(());

        loop {
            let in_flight = processing.len() + delivering.len();
            self.set_in_flight(in_flight);
            if in_flight < max_in_flight
                && let Some(message) = held.pop_front()
            {
                processing.push_back(self.spawn_process(message));
                continue;
            }
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(delivered) = delivering.next() => {
                    if let Err(error) = self.complete(delivered).await {
                        outcome = Err(error);
                        break;
                    }
                }
                Some((message, result)) = processing.next() => {
                    match self.route(&message, result, &shutdown, &mut held).await {
                        Ok(Some(records)) => match self.enqueue_all(message, records).await {
                            Ok(future) => delivering.push_back(future),
                            Err(error) => { outcome = Err(error); break; }
                        },
                        Ok(None) => break, // shutdown while the dedupe store was down
                        Err(error) => { outcome = Err(error); break; }
                    }
                }
                received = self.consumer.recv(), if in_flight < max_in_flight => match received {
                    Ok(message) => {
                        let message = message.detach();
                        self.metrics.messages_consumed.with_label_values(&[message.topic()]).inc();
                        self.metrics.bytes_consumed.with_label_values(&[message.topic()]).inc_by(message.payload().map_or(0, <[u8]>::len) as u64);
                        processing.push_back(self.spawn_process(message));
                    }
                    Err(error) => {
                        self.metrics.kafka_errors.with_label_values(&["consumer"]).inc();
                        tracing::warn!(message = "Kafka read failed; retrying.", %error);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }

        if outcome.is_ok() {
            self.drain(&mut processing, &mut delivering, &mut held)
                .await?;
        }
        self.finish();
        self.health.stopped.store(true, Ordering::Relaxed);
        outcome
    }

    /// After SIGTERM: take nothing new, finish what is in flight within the grace period.
    async fn drain(
        &self,
        processing: &mut FuturesOrdered<ProcessingFuture>,
        delivering: &mut FuturesOrdered<DeliveringFuture>,
        held: &mut VecDeque<OwnedMessage>,
    ) -> anyhow::Result<()> {
        let grace = Duration::from_millis(self.settings.shutdown.drain_timeout_ms);
        tracing::info!(
            message = "Draining in-flight work.",
            in_flight = processing.len() + delivering.len(),
            grace_ms = grace.as_millis() as u64
        );
        let deadline = tokio::time::sleep(grace);
        tokio::pin!(deadline);
        // During the drain the dedupe store may be down (fail_closed), and `route` then waits inside
        // a select arm where the deadline arm cannot fire; this token, cancelled by a timer at the
        // deadline, makes it give up so the drain never outlasts its grace period.
        let give_up = CancellationToken::new();
        let _timer = {
            let give_up = give_up.clone();
            tokio_util::task::AbortOnDropHandle::new(tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                give_up.cancel();
            }))
        };
        loop {
            self.set_in_flight(processing.len() + delivering.len());
            if processing.is_empty() && delivering.is_empty() {
                tracing::info!(message = "Drain complete.");
                return Ok(());
            }
            tokio::select! {
                biased;
                _ = &mut deadline => {
                    give_up.cancel();
                    tracing::warn!(message = "Drain grace period over; unfinished messages will be redelivered.", left = processing.len() + delivering.len());
                    return Ok(());
                }
                Some(delivered) = delivering.next() => self.complete(delivered).await?,
                Some((message, result)) = processing.next() => {
                    match self.route(&message, result, &give_up, held).await? {
                        Some(records) => delivering.push_back(self.enqueue_all(message, records).await?),
                        None => return Ok(()),
                    }
                }
            }
        }
    }

    /// Commit what was stored and flush the producer. Called on every exit path.
    fn finish(&self) {
        match self.consumer.commit_consumer_state(CommitMode::Sync) {
            Ok(()) => tracing::info!(message = "Final offsets committed."),
            Err(rdkafka::error::KafkaError::ConsumerCommit(
                rdkafka::types::RDKafkaErrorCode::NoOffset,
            )) => {}
            Err(error) => {
                self.metrics.commit_failures.inc();
                tracing::warn!(message = "Final commit failed; uncommitted messages will be redelivered.", %error);
            }
        }
        if let Err(error) = self.sink.flush(Duration::from_secs(10)) {
            tracing::warn!(message = "Producer flush failed.", %error);
        }
    }

    fn set_in_flight(&self, n: usize) {
        self.metrics.in_flight.set(n as i64);
        self.health.in_flight.store(n, Ordering::Relaxed);
        let full = n >= self.settings.processing.max_in_flight;
        self.metrics.paused.set(i64::from(
            full || !self.health.store_ok.load(Ordering::Relaxed),
        ));
    }

    /// Run the pipeline on a blocking thread. The message is shared so that even a panic outside
    /// the pipeline's own `catch_unwind` cannot lose it.
    fn spawn_process(&self, message: OwnedMessage) -> ProcessingFuture {
        let message = Arc::new(message);
        let pipeline = Arc::clone(&self.pipeline);
        let for_task = Arc::clone(&message);
        let metrics = self.metrics.clone();
        let span = tracing::debug_span!("article", topic = %message.topic(), partition = message.partition(), offset = message.offset());
        let _guard = span.enter();
        let handle = spawn_blocking_in_span(move || {
            let provenance = Provenance {
                topic: Some(for_task.topic().to_owned()),
                partition: Some(for_task.partition()),
                offset: Some(for_task.offset()),
                timestamp_ms: for_task.timestamp().to_millis(),
                file: None,
                line: None,
                processed_at: chrono::Utc::now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                wiredesk_version: env!("CARGO_PKG_VERSION").to_owned(),
                entities_model: None,
            };
            pipeline.process(for_task.payload().unwrap_or_default(), provenance)
        });
        Box::pin(async move {
            let result = match handle.await {
                Ok(result) => result,
                Err(error) => {
                    metrics.stage_errors.with_label_values(&["pipeline"]).inc();
                    Err(Rejection::new(
                        crate::error::RejectCode::StagePanicked,
                        format!("processing task failed: {error}"),
                    )
                    .at("pipeline"))
                }
            };
            (message, result)
        })
    }

    /// Decide what to publish for one processed message, in input order. `Ok(None)` means shutdown
    /// arrived while waiting for the dedupe store; the message is left for redelivery.
    async fn route(
        &self,
        message: &OwnedMessage,
        result: Result<Processed, Rejection>,
        shutdown: &CancellationToken,
        held: &mut VecDeque<OwnedMessage>,
    ) -> anyhow::Result<Option<Vec<OutRecord>>> {
        let processed = match result {
            Ok(processed) => processed,
            Err(rejection) => {
                crate::events::article_rejected(
                    &self.metrics,
                    &rejection,
                    message.topic(),
                    message.partition(),
                    message.offset(),
                );
                return Ok(Some(vec![dead_letter::record(
                    &self.settings.topics.dead_letter,
                    source_of(message),
                    &rejection,
                )]));
            }
        };
        let Processed {
            mut doc,
            fingerprint,
        } = processed;
        let mut destination = Destination::Output;
        if let (Some(deduper), Some(fingerprint)) = (&self.deduper, fingerprint) {
            let Some(decision) = self
                .dedupe(deduper, &doc, &fingerprint, shutdown, held)
                .await
            else {
                return Ok(None);
            };
            if decision.status == DedupeStatus::Duplicate {
                let action = self.settings.dedupe.action;
                crate::events::duplicate_found(
                    &self.metrics,
                    action,
                    &doc.id,
                    decision.duplicate_of.as_deref(),
                    origin_of(message),
                );
                match action {
                    DuplicateAction::Drop => return Ok(Some(Vec::new())),
                    DuplicateAction::Tag => {}
                    DuplicateAction::Route => destination = Destination::Duplicates,
                }
            }
            doc.dedupe = Some(decision);
        }
        let topic = match destination {
            Destination::Duplicates => &self.settings.topics.duplicates,
            _ => &self.settings.topics.output,
        };
        Ok(Some(vec![output_record(
            doc,
            message,
            topic,
            destination,
            self.settings.output.include_text,
        )?]))
    }

    /// Look the fingerprint up. Under `fail_closed`, a store outage pauses consumption here until
    /// the store answers again; messages that arrive meanwhile are held, not dropped.
    async fn dedupe(
        &self,
        deduper: &Deduper,
        doc: &Enriched,
        fingerprint: &crate::dedupe::Fingerprint,
        shutdown: &CancellationToken,
        held: &mut VecDeque<OwnedMessage>,
    ) -> Option<crate::dedupe::DedupeResult> {
        let mut backoff = Duration::from_millis(self.settings.delivery.retry_backoff_ms);
        let mut paused_partitions = None;
        loop {
            let started = Instant::now();
            let result = deduper
                .decide(&doc.id, fingerprint, doc.event_time_ms())
                .await;
            self.metrics
                .dedupe_store_duration
                .observe(started.elapsed().as_secs_f64());
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
                    if let Some(partitions) = paused_partitions.take() {
                        if let Err(error) = self.consumer.resume(&partitions) {
                            tracing::warn!(message = "Resuming partitions failed.", %error);
                        }
                        tracing::info!(message = "Dedupe store is back; consumption resumed.");
                    }
                    if let Some(n) = deduper.entries() {
                        self.metrics.dedupe_entries.set(n as i64);
                    }
                    if let Some(n) = deduper.approx_bytes() {
                        self.metrics.dedupe_bytes.set(n as i64);
                    }
                    return Some(decision);
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
                    self.metrics.paused.set(1);
                    if paused_partitions.is_none() {
                        tracing::error!(message = "Dedupe store unavailable; pausing consumption (on_store_error = fail_closed).", %error);
                        if let Ok(assignment) = self.consumer.assignment() {
                            if let Err(error) = self.consumer.pause(&assignment) {
                                tracing::warn!(message = "Pausing partitions failed.", %error);
                            }
                            paused_partitions = Some(assignment);
                        }
                    }
                    // Keep polling while paused so the group membership stays alive; anything
                    // already fetched is held in order.
                    let sleep = tokio::time::sleep(backoff);
                    tokio::pin!(sleep);
                    loop {
                        tokio::select! {
                            _ = shutdown.cancelled() => return None,
                            _ = &mut sleep => break,
                            received = self.consumer.recv() => if let Ok(message) = received {
                                held.push_back(message.detach());
                            },
                        }
                    }
                    backoff = (backoff * 2).min(Duration::from_millis(
                        self.settings.delivery.retry_max_backoff_ms,
                    ));
                }
            }
        }
    }

    /// Hand the records to the producer in order and return a future of their acknowledgements.
    async fn enqueue_all(
        &self,
        message: Arc<OwnedMessage>,
        records: Vec<OutRecord>,
    ) -> anyhow::Result<DeliveringFuture> {
        let mut pending: Vec<(OutRecord, DeliveryFuture)> = Vec::with_capacity(records.len());
        for record in records {
            let delivery = self.enqueue_with_retry(&record).await?;
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

    async fn enqueue_with_retry(&self, record: &OutRecord) -> anyhow::Result<DeliveryFuture> {
        let mut backoff = Duration::from_millis(self.settings.delivery.retry_backoff_ms);
        let mut attempt = 0;
        loop {
            match self.sink.enqueue(record).await {
                Ok(delivery) => return Ok(delivery),
                Err(error) if attempt < self.settings.delivery.max_resends => {
                    attempt += 1;
                    self.metrics
                        .kafka_errors
                        .with_label_values(&["producer"])
                        .inc();
                    tracing::warn!(message = "Producer refused a record; retrying.", %error, topic = %record.topic, attempt);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(
                        self.settings.delivery.retry_max_backoff_ms,
                    ));
                }
                Err(error) => bail!(
                    "cannot hand a record for topic `{}` to the producer: {error}",
                    record.topic
                ),
            }
        }
    }

    /// All records of the oldest in-flight message are settled: re-send failures (in order), then
    /// store the offset. An `Err` means a record could not be delivered at all: stop without
    /// storing, so it is redelivered after restart.
    async fn complete(&self, delivered: Delivered) -> anyhow::Result<()> {
        let Delivered { message, results } = delivered;
        for (record, result) in results {
            if let Err(error) = result {
                tracing::warn!(message = "Record not acknowledged; re-sending.", %error, topic = %record.topic, source_partition = message.partition(), source_offset = message.offset());
                self.resend(&record).await?;
            }
        }
        if let Err(error) =
            self.consumer
                .store_offset(message.topic(), message.partition(), message.offset())
        {
            // Typically the partition was revoked meanwhile: its new owner re-reads from the last
            // commit, so at-least-once still holds.
            tracing::debug!(message = "Offset not stored.", %error, topic = message.topic(), partition = message.partition(), offset = message.offset());
        }
        if let Some(ts) = message.timestamp().to_millis() {
            let seconds = (crate::http::now_ms() - ts).max(0) as f64 / 1000.0;
            self.metrics.end_to_end.observe(seconds);
        }
        let now = crate::http::now_ms();
        self.metrics.last_progress.set(now as f64 / 1000.0);
        self.health.progress();
        self.health.broker_seen();
        Ok(())
    }

    async fn resend(&self, record: &OutRecord) -> anyhow::Result<()> {
        let mut backoff = Duration::from_millis(self.settings.delivery.retry_backoff_ms);
        for attempt in 1..=self.settings.delivery.max_resends {
            tokio::time::sleep(backoff).await;
            let delivery = self.enqueue_with_retry(record).await?;
            match self
                .sink
                .acknowledged(delivery, record.destination, record.payload_len())
                .await
            {
                Ok(()) => return Ok(()),
                Err(error) => {
                    tracing::warn!(message = "Re-send failed.", %error, topic = %record.topic, attempt);
                    backoff = (backoff * 2).min(Duration::from_millis(
                        self.settings.delivery.retry_max_backoff_ms,
                    ));
                }
            }
        }
        bail!(
            "giving up: a record for topic `{}` was not acknowledged after {} re-sends; stopping without committing it",
            record.topic,
            self.settings.delivery.max_resends
        )
    }
}

fn origin_of(message: &OwnedMessage) -> crate::events::Origin<'_> {
    crate::events::Origin {
        topic: message.topic(),
        partition: message.partition(),
        offset: message.offset(),
    }
}

fn source_of(message: &OwnedMessage) -> dead_letter::Source<'_> {
    dead_letter::Source {
        topic: message.topic(),
        partition: message.partition(),
        offset: message.offset(),
        key: message.key(),
        payload: message.payload(),
        headers: headers_of(message),
    }
}

fn headers_of(message: &OwnedMessage) -> Vec<(String, Vec<u8>)> {
    message
        .headers()
        .map(|headers| {
            headers
                .iter()
                .map(|h| {
                    (
                        h.key.to_owned(),
                        h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The enriched record: JSON value, keyed by article id, with schema headers and trace context.
fn output_record(
    mut doc: Enriched,
    message: &OwnedMessage,
    topic: &str,
    destination: Destination,
    include_text: bool,
) -> anyhow::Result<OutRecord> {
    if !include_text {
        doc.text.clear();
    }
    let payload = serde_json::to_vec(&doc).context("serializing an enriched record")?;
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
    for (key, value) in headers_of(message) {
        if TRACE_HEADERS.contains(&key.to_ascii_lowercase().as_str()) {
            headers.push((key, value));
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
