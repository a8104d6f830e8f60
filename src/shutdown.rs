//! The future that resolves when the process is asked to stop.
//!
//! Both signals matter: Ctrl-C (SIGINT) when a student runs the service in a
//! terminal, SIGTERM when a script, `docker compose down` or CI stops it. The
//! server stops accepting connections when this resolves and lets in-flight
//! orders finish, so no lock is left to expire by its TTL.

/// Resolves on the first SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        tokio::signal::ctrl_c()
            .await
            .expect("failed to install the Ctrl-C handler");
    };

    #[cfg(unix)]
    let terminate = async {
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("failed to install the SIGTERM handler")
            .recv()
            .await;
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();

    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
