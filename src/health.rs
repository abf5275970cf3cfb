//! What the probes look at, written by the worker and read by the HTTP handlers; and the clock
//! they share. Its own module so that the Kafka edge and the HTTP server both depend on it, not
//! on each other.
//!
//! - **Liveness** (`/healthz`) means "the worker loop turns": it fails only when the loop has not
//!   come round for `http.stall_timeout_ms` (a hang, a deadlock) or has stopped. A deliberate
//!   pause (the dedupe store is down under `fail_closed`) or a broker outage keeps the loop
//!   turning, so Kubernetes does not restart every replica at once for an outage a restart
//!   cannot fix.
//! - **Readiness** (`/readyz`) reports the dependencies: broker reachable, group joined, dedupe
//!   store answering, not paused.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

#[derive(Debug)]
pub struct Health {
    /// Input partitions assigned (readiness needs at least one... or an empty but joined group).
    pub assigned: AtomicUsize,
    /// Set once the group has been joined (first assignment callback, even an empty one).
    pub joined: AtomicBool,
    /// Last time the broker answered (statistics callback or successful delivery), Unix ms.
    pub broker_seen_ms: AtomicI64,
    /// Whether the dedupe store answers (always true for the memory store).
    pub store_ok: AtomicBool,
    /// Consumption is paused until the dedupe store answers (`fail_closed` outage). Partitions
    /// assigned meanwhile are paused too.
    pub store_paused: AtomicBool,
    /// Last time a record completed, Unix ms (a metric and a log field; not liveness).
    pub last_progress_ms: AtomicI64,
    /// Last time the worker loop (or one of its waiting loops) came round, Unix ms.
    pub loop_turned_ms: AtomicI64,
    /// Messages in flight.
    pub in_flight: AtomicUsize,
    /// Set when the worker loop has ended (fatal error or shutdown).
    pub stopped: AtomicBool,
    /// `http.stall_timeout_ms`.
    pub stall_timeout_ms: i64,
    /// How recent `broker_seen_ms` must be for readiness.
    pub broker_timeout_ms: i64,
}

impl Health {
    pub fn new(stall_timeout_ms: u64, broker_timeout_ms: u64) -> Self {
        let now = now_ms();
        Health {
            assigned: AtomicUsize::new(0),
            joined: AtomicBool::new(false),
            broker_seen_ms: AtomicI64::new(0),
            store_ok: AtomicBool::new(true),
            store_paused: AtomicBool::new(false),
            last_progress_ms: AtomicI64::new(now),
            loop_turned_ms: AtomicI64::new(now),
            in_flight: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
            stall_timeout_ms: stall_timeout_ms as i64,
            broker_timeout_ms: broker_timeout_ms as i64,
        }
    }

    pub fn progress(&self) {
        self.last_progress_ms.store(now_ms(), Ordering::Relaxed);
    }

    pub fn broker_seen(&self) {
        self.broker_seen_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// The worker loop came round: called on every turn, including while it waits.
    pub fn turned(&self) {
        self.loop_turned_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Alive: the loop runs and has turned recently.
    pub fn live(&self) -> Result<(), String> {
        if self.stopped.load(Ordering::Relaxed) {
            return Err("worker loop stopped".into());
        }
        let since = now_ms() - self.loop_turned_ms.load(Ordering::Relaxed);
        if since < self.stall_timeout_ms {
            Ok(())
        } else {
            Err(format!("worker loop has not turned for {since} ms"))
        }
    }

    /// Ready: alive, broker reachable, group joined, dedupe store reachable, not paused.
    pub fn ready(&self) -> Result<(), String> {
        self.live()?;
        let since_broker = now_ms() - self.broker_seen_ms.load(Ordering::Relaxed);
        if since_broker > self.broker_timeout_ms {
            return Err("broker not reachable".into());
        }
        if !self.joined.load(Ordering::Relaxed) {
            return Err("consumer group not joined yet".into());
        }
        if self.store_paused.load(Ordering::Relaxed) {
            return Err("consumption paused: dedupe store not reachable (fail_closed)".into());
        }
        if !self.store_ok.load(Ordering::Relaxed) {
            return Err("dedupe store not reachable".into());
        }
        Ok(())
    }
}

/// Wall-clock time, Unix ms: the one clock of the worker's bookkeeping.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
