//! Wiring for `wiredesk run`: build the clients, pipeline, dedupe store and metrics from
//! [`Settings`]; serve HTTP; run the worker until shutdown; drain.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::FutureProducer;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dedupe::Deduper;
use crate::health::Health;
use crate::http::AppState;
use crate::kafka::WorkerContext;
use crate::kafka::sink::Sink;
use crate::kafka::source::Worker;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// Run the worker until `shutdown` resolves (then drain and return `Ok`) or a fatal error.
pub async fn run(
    settings: Settings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let settings = Arc::new(settings);
    let metrics = Metrics::new();
    let stats_ms = settings.kafka.statistics_interval_ms;
    let broker_timeout = if stats_ms == 0 {
        u64::MAX / 4
    } else {
        (stats_ms * 3).max(15_000)
    };
    let health = Arc::new(Health::new(settings.http.stall_timeout_ms, broker_timeout));

    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    {
        // Ends on the signal or when the worker stops by itself (a fatal error), so that waiting
        // for the tracker never waits for a signal that will not come.
        let token = token.clone();
        tracker.spawn(async move {
            tokio::select! {
                _ = shutdown => token.cancel(),
                _ = token.cancelled() => {}
            }
        });
    }

    // HTTP first, so probes and metrics answer while we wait for the broker.
    let listener = tokio::net::TcpListener::bind(&settings.http.listen)
        .await
        .with_context(|| format!("binding http.listen {}", settings.http.listen))?;
    tracing::info!(message = "Serving metrics and health.", address = %listener.local_addr()?);
    let router = crate::http::router(AppState {
        metrics: metrics.clone(),
        health: Arc::clone(&health),
    });
    {
        let token = token.clone();
        tracker.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(async move { token.cancelled().await })
                .await;
            if let Err(error) = served {
                tracing::error!(message = "HTTP server failed.", %error);
            }
        });
    }

    let pipeline = Arc::new(crate::stage::build(&settings, Some(metrics.clone()))?);
    spawn_taxonomy_reloader(&tracker, &token, &pipeline, &metrics);

    let deduper = if settings.dedupe.enabled {
        match connect_store(&settings, &health, &metrics, &token).await? {
            Some(deduper) => Some(Arc::new(deduper)),
            None => {
                tracker.close();
                tracker.wait().await;
                return Ok(());
            }
        }
    } else {
        None
    };

    let consumer: StreamConsumer<WorkerContext> = crate::kafka::consumer_config(&settings)?
        .create_with_context(WorkerContext::new(
            metrics.clone(),
            Arc::clone(&health),
            "consumer",
        ))
        .context("creating the Kafka consumer")?;
    let producer: FutureProducer<WorkerContext> = crate::kafka::producer_config(&settings)?
        .create_with_context(WorkerContext::new(
            metrics.clone(),
            Arc::clone(&health),
            "producer",
        ))
        .context("creating the Kafka producer")?;

    if !wait_for_topics(&consumer, &settings, &health, &token).await? {
        tracker.close();
        tracker.wait().await;
        return Ok(());
    }

    let worker = Worker {
        cpu: Arc::new(tokio::sync::Semaphore::new(settings.processing.threads())),
        settings: Arc::clone(&settings),
        consumer: Arc::new(consumer),
        sink: Arc::new(Sink::new(producer, metrics.clone())),
        pipeline,
        deduper,
        metrics,
        health,
    };
    let result = worker.run(token.clone()).await;
    token.cancel();
    tracker.close();
    tracker.wait().await;
    result
}

/// Connect the dedupe store. An unreachable Redis is transient: retry with back-off (readiness
/// stays false meanwhile) rather than crash-looping; a malformed URL is a configuration error.
/// Returns `None` on shutdown.
async fn connect_store(
    settings: &Settings,
    health: &Health,
    metrics: &Metrics,
    token: &CancellationToken,
) -> anyhow::Result<Option<Deduper>> {
    use redis::IntoConnectionInfo;
    if settings.dedupe.store == crate::dedupe::StoreKind::Redis {
        settings
            .dedupe
            .redis
            .url
            .as_str()
            .into_connection_info()
            .context("invalid dedupe.redis.url")?;
    }
    let mut backoff = Duration::from_millis(500);
    loop {
        health.turned();
        match Deduper::connect(&settings.dedupe).await {
            Ok(deduper) => {
                health
                    .store_ok
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                metrics.up.with_label_values(&["dedupe_store"]).set(1.0);
                return Ok(Some(deduper));
            }
            Err(error) => {
                health
                    .store_ok
                    .store(false, std::sync::atomic::Ordering::Relaxed);
                metrics.up.with_label_values(&["dedupe_store"]).set(0.0);
                tracing::warn!(
                    message = "Dedupe store not reachable yet; retrying.",
                    error = format!("{error:#}"),
                    backoff_ms = backoff.as_millis() as u64
                );
                tokio::select! {
                    _ = token.cancelled() => return Ok(None),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Block until the broker answers and every topic we use exists. Broker unreachable: retry with
/// back-off (it may still be starting). Topic missing: a configuration error, stop with its name.
/// Returns `false` on shutdown.
async fn wait_for_topics(
    consumer: &StreamConsumer<WorkerContext>,
    settings: &Settings,
    health: &Health,
    token: &CancellationToken,
) -> anyhow::Result<bool> {
    let mut needed = vec![
        ("topics.input", settings.topics.input.clone()),
        ("topics.output", settings.topics.output.clone()),
        ("topics.dead_letter", settings.topics.dead_letter.clone()),
    ];
    if settings.dedupe.enabled && settings.dedupe.action == crate::dedupe::DuplicateAction::Route {
        needed.push(("topics.duplicates", settings.topics.duplicates.clone()));
    }
    let mut backoff = Duration::from_millis(500);
    loop {
        health.turned();
        let client = consumer.client();
        let metadata =
            tokio::task::block_in_place(|| client.fetch_metadata(None, Duration::from_secs(5)));
        match metadata {
            Ok(metadata) => {
                let missing: Vec<String> = needed
                    .iter()
                    .filter(|(_, name)| {
                        !metadata
                            .topics()
                            .iter()
                            .any(|t| t.name() == name && t.error().is_none())
                    })
                    .map(|(key, name)| format!("{key} `{name}`"))
                    .collect();
                if missing.is_empty() {
                    return Ok(true);
                }
                bail!(
                    "topic(s) not found on the cluster: {}; create them first",
                    missing.join(", ")
                );
            }
            Err(error) => {
                tracing::warn!(message = "Kafka not reachable yet; retrying.", %error, brokers = %settings.kafka.brokers, backoff_ms = backoff.as_millis() as u64);
                tokio::select! {
                    _ = token.cancelled() => return Ok(false),
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// SIGHUP re-reads the taxonomy. A bad file is refused, the old taxonomy stays, and
/// `wiredesk_taxonomy_reloads_total{result="error"}` counts it.
fn spawn_taxonomy_reloader(
    tracker: &TaskTracker,
    token: &CancellationToken,
    pipeline: &Arc<crate::stage::Pipeline>,
    metrics: &Metrics,
) {
    #[cfg(unix)]
    {
        let Some(tags) = pipeline.tags().cloned() else {
            return;
        };
        let token = token.clone();
        let metrics = metrics.clone();
        tracker.spawn(async move {
            let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
                Ok(stream) => stream,
                Err(error) => {
                    tracing::error!(message = "Cannot listen for SIGHUP; taxonomy reload disabled.", %error);
                    return;
                }
            };
            loop {
                tokio::select! {
                    _ = token.cancelled() => return,
                    _ = hangups.recv() => {}
                }
                let tags = Arc::clone(&tags);
                match tokio::task::spawn_blocking(move || tags.reload()).await {
                    Ok(Ok(())) => {
                        metrics.taxonomy_reloads.with_label_values(&["ok"]).inc();
                        tracing::info!(message = "Taxonomy reloaded.");
                    }
                    Ok(Err(error)) => {
                        metrics.taxonomy_reloads.with_label_values(&["error"]).inc();
                        tracing::error!(message = "Taxonomy reload refused; the previous taxonomy stays in force.", error = format!("{error:#}"));
                    }
                    Err(error) => {
                        metrics.taxonomy_reloads.with_label_values(&["error"]).inc();
                        tracing::error!(message = "Taxonomy reload task failed.", %error);
                    }
                }
            }
        });
    }
}
