//! The operator endpoints, on their own port (`http.listen`), never on a public listener:
//! `/metrics` (Prometheus text format), `/healthz` (liveness) and `/readyz` (readiness).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::metrics::Metrics;

/// What the probes look at; written by the worker, read by HTTP handlers.
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
    /// Last time a record completed, Unix ms.
    pub last_progress_ms: AtomicI64,
    /// Messages in flight; with none, no progress is expected.
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
            last_progress_ms: AtomicI64::new(now),
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

    /// Alive: the loop runs and either has nothing to do or finished a record recently.
    pub fn live(&self) -> Result<(), String> {
        if self.stopped.load(Ordering::Relaxed) {
            return Err("worker loop stopped".into());
        }
        let idle = self.in_flight.load(Ordering::Relaxed) == 0;
        let since = now_ms() - self.last_progress_ms.load(Ordering::Relaxed);
        if idle || since < self.stall_timeout_ms {
            Ok(())
        } else {
            Err(format!("no record finished for {since} ms with work in flight"))
        }
    }

    /// Ready: broker reachable, group joined with partitions, dedupe store reachable.
    pub fn ready(&self) -> Result<(), String> {
        self.live()?;
        let since_broker = now_ms() - self.broker_seen_ms.load(Ordering::Relaxed);
        if since_broker > self.broker_timeout_ms {
            return Err("broker not reachable".into());
        }
        if !self.joined.load(Ordering::Relaxed) {
            return Err("consumer group not joined yet".into());
        }
        if !self.store_ok.load(Ordering::Relaxed) {
            return Err("dedupe store not reachable".into());
        }
        Ok(())
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[derive(Clone)]
pub struct AppState {
    pub metrics: Metrics,
    pub health: Arc<Health>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.encode())
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    probe(state.health.live())
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    probe(state.health.ready())
}

fn probe(result: Result<(), String>) -> (StatusCode, String) {
    match result {
        Ok(()) => (StatusCode::OK, "ok\n".into()),
        Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}
