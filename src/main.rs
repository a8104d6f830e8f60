//! The `stocklock` binary: parse the configuration, start logging, build the
//! application and serve until Ctrl-C or SIGTERM. Everything else lives in the
//! library so that the integration tests can start the very same application.

use anyhow::Context;
use clap::Parser;

use stocklock::config::Config;
use stocklock::shutdown::shutdown_signal;
use stocklock::startup::Application;
use stocklock::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    telemetry::init(std::io::stderr);
    let app = Application::build(&config)
        .await
        .context("failed to start stocklock")?;
    tracing::info!(port = app.port(), backend = %config.lock_backend, "stocklock is listening");
    app.run_until_stopped(shutdown_signal()).await
}
