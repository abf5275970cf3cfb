//! The shutdown trigger. `signal()` resolves on SIGINT or SIGTERM (what Kubernetes sends); the app
//! turns it into a `CancellationToken` that every task watches: decide, tell, wait.

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(message = "Cannot listen for SIGINT.", %error);
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(error) => {
                tracing::error!(message = "Cannot listen for SIGTERM.", %error);
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!(message = "SIGINT received, shutting down."),
        _ = terminate => tracing::info!(message = "SIGTERM received, shutting down."),
    }
}
