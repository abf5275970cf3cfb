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
            Err(format!(
                "no record finished for {since} ms with work in flight"
            ))
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
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.encode(),
    )
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

#[cfg(test)]
mod tests {
    //! The router without a port (axum testing style): `oneshot` one request per case.
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn state() -> AppState {
        AppState {
            metrics: Metrics::new(),
            health: Arc::new(Health::new(60_000, 15_000)),
        }
    }

    async fn get(state: &AppState, path: &str) -> (StatusCode, Option<String>, String) {
        let response = router(state.clone())
            .oneshot(
                Request::get(path)
                    .body(Body::empty())
                    .expect("a valid request"),
            )
            .await
            .expect("the router is infallible");
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().expect("ascii").to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).expect("utf-8 body"),
        )
    }

    /// A worker that has joined its group, sees the broker and has a working store.
    fn make_ready(health: &Health) {
        health.broker_seen();
        health.joined.store(true, Ordering::Relaxed);
        health.assigned.store(1, Ordering::Relaxed);
    }

    #[tokio::test]
    async fn metrics_serves_the_text_format() {
        let s = state();
        s.metrics
            .messages_consumed
            .with_label_values(&["raw"])
            .inc_by(3);
        let (status, content_type, body) = get(&s, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            content_type
                .expect("content-type")
                .starts_with("text/plain; version=0.0.4")
        );
        assert!(
            body.contains("wiredesk_messages_consumed_total{topic=\"raw\"} 3"),
            "{body}"
        );
        assert!(
            body.contains("# TYPE wiredesk_stage_duration_seconds histogram"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn healthz_is_ok_while_idle_even_before_joining() {
        let (status, _, body) = get(&state(), "/healthz").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    }

    #[tokio::test]
    async fn healthz_fails_when_the_loop_stopped() {
        let s = state();
        s.health.stopped.store(true, Ordering::Relaxed);
        let (status, _, body) = get(&s, "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("stopped"), "{body}");
    }

    #[tokio::test]
    async fn healthz_fails_when_work_is_stuck() {
        let s = AppState {
            metrics: Metrics::new(),
            health: Arc::new(Health::new(1_000, 15_000)),
        };
        s.health.in_flight.store(4, Ordering::Relaxed);
        s.health
            .last_progress_ms
            .store(now_ms() - 5_000, Ordering::Relaxed);
        let (status, _, body) = get(&s, "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("no record finished"), "{body}");
        // Progress makes it healthy again.
        s.health.progress();
        assert_eq!(get(&s, "/healthz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn readyz_waits_for_broker_and_group() {
        let s = state();
        let (status, _, body) = get(&s, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("broker"), "{body}");
        s.health.broker_seen();
        let (status, _, body) = get(&s, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("group"), "{body}");
        make_ready(&s.health);
        let (status, _, body) = get(&s, "/readyz").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    }

    #[tokio::test]
    async fn readyz_fails_when_the_broker_went_quiet() {
        let s = state();
        make_ready(&s.health);
        s.health
            .broker_seen_ms
            .store(now_ms() - 60_000, Ordering::Relaxed);
        let (status, _, body) = get(&s, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("broker not reachable"), "{body}");
    }

    #[tokio::test]
    async fn readyz_fails_when_the_dedupe_store_is_down() {
        let s = state();
        make_ready(&s.health);
        s.health.store_ok.store(false, Ordering::Relaxed);
        let (status, _, body) = get(&s, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("dedupe store"), "{body}");
    }

    #[tokio::test]
    async fn readyz_fails_once_stopped() {
        let s = state();
        make_ready(&s.health);
        s.health.stopped.store(true, Ordering::Relaxed);
        assert_eq!(get(&s, "/readyz").await.0, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn unknown_paths_are_404() {
        assert_eq!(get(&state(), "/nope").await.0, StatusCode::NOT_FOUND);
    }
}
