//! The operator endpoints, on their own port (`http.listen`), never on a public listener:
//! `/metrics` (Prometheus text format), `/healthz` (liveness) and `/readyz` (readiness).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::health::Health;
use crate::metrics::Metrics;

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
    use crate::health::now_ms;
    use axum::body::Body;
    use axum::http::Request;
    use std::sync::atomic::Ordering;
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
    async fn healthz_fails_when_the_loop_stops_turning_not_when_work_waits() {
        let s = AppState {
            metrics: Metrics::new(),
            health: Arc::new(Health::new(1_000, 15_000)),
        };
        // Work in flight and no progress for long (a store or broker outage): still alive.
        s.health.in_flight.store(4, Ordering::Relaxed);
        s.health
            .last_progress_ms
            .store(now_ms() - 500_000, Ordering::Relaxed);
        assert_eq!(get(&s, "/healthz").await.0, StatusCode::OK);
        // The loop itself has not turned: not alive.
        s.health
            .loop_turned_ms
            .store(now_ms() - 5_000, Ordering::Relaxed);
        let (status, _, body) = get(&s, "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("worker loop has not turned"), "{body}");
        s.health.turned();
        assert_eq!(get(&s, "/healthz").await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn readyz_fails_while_paused_for_the_store() {
        let s = state();
        make_ready(&s.health);
        s.health.store_paused.store(true, Ordering::Relaxed);
        let (status, _, body) = get(&s, "/readyz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("paused"), "{body}");
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
