//! Building and running the application.
//!
//! [`Application::build`] does everything that can fail at start-up —
//! connect to PostgreSQL, migrate, prepare the lock backends, bind the port —
//! and reports the port it got. [`Application::run_until_stopped`] serves
//! until the shutdown future resolves. Tests use the same two calls with
//! `port = 0` and their own shutdown future, so they run the real thing.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use stocklock_api::Backend;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{Semaphore, oneshot};
use tokio_util::task::TaskTracker;

use crate::access::Access;
use crate::config::Config;
use crate::faults::FaultInjector;
use crate::http;
use crate::http::serve;
use crate::lock::{
    AtomicUpdate, EtcdLock, GroupCommit, LocalLock, Lock, LockBackend, NoLock, PostgresAdvisoryLock,
    RedisLock, Redlock,
};
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::{self, Batches, KnownProducts};
use crate::switch::{LockSwitch, Settings};

pub struct Application {
    listener: TcpListener,
    state: Arc<AppState>,
    limits: serve::Limits,
    body_timeout: Duration,
}

impl Application {
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        if config
            .admin_token
            .as_deref()
            .is_some_and(|token| token.trim().is_empty())
        {
            anyhow::bail!("ADMIN_TOKEN is set but blank: a blank token would admit anyone");
        }
        if !config.host.is_loopback() && config.admin_token.is_none() {
            anyhow::bail!(
                "HOST={} can be reached from the network, and its admin routes (reset, switch, faults) \
                 would be open to it: set ADMIN_TOKEN",
                config.host
            );
        }
        let listener =
            listen(config).with_context(|| format!("could not listen on {}:{}", config.host, config.port))?;
        let instance = instance_name(config, &listener)?;
        let pool = store::connect(&config.database_url, config.db_max_connections, &instance)
            .await
            .context("could not connect to PostgreSQL (DATABASE_URL) and migrate it")?;
        let tasks = TaskTracker::new();
        let metrics = Arc::new(Metrics::default());
        let locks = build_backends(config, &tasks, &metrics)?
            .into_iter()
            .map(|backend| Lock::new(backend, pool.clone(), tasks.clone(), metrics.clone()))
            .collect();
        let locks = LockSwitch::new(locks, initial_settings(config)?)?;
        let probe = store::connect_probe(&config.database_url).context("invalid DATABASE_URL")?;
        let state = Arc::new(AppState {
            instance,
            pool,
            probe,
            admission: Arc::new(Semaphore::new(config.max_orders_in_flight)),
            locks,
            tasks,
            faults: FaultInjector::default(),
            products: KnownProducts::default(),
            batches: Batches::default(),
            access: Access {
                allowed_hosts: config
                    .allowed_hosts
                    .iter()
                    .map(|h| h.to_ascii_lowercase())
                    .collect(),
                admin_token: config.admin_token.clone(),
            },
            metrics,
        });
        Ok(Application {
            listener,
            state,
            limits: connection_limits(config),
            body_timeout: Duration::from_millis(config.body_read_timeout_ms),
        })
    }

    /// The port actually bound (useful when the configuration said 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests and
    /// order tasks finish (releasing their locks) and closes the pool.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state;
        let app = http::app(state.clone(), self.body_timeout);
        serve::serve(self.listener, app, self.limits, shutdown).await;
        // Orders whose clients hung up are still running: wait for them.
        state.tasks.close();
        state.tasks.wait().await;
        state.pool.close().await;
        tracing::info!("stopped cleanly");
        Ok(())
    }
}

/// `INSTANCE_NAME`, checked, or the host's name and the port bound. It
/// goes to PostgreSQL as each connection's `application_name`, which keeps
/// at most 63 bytes and turns anything but printable ASCII into `?`: a name
/// it would mangle is refused here instead.
fn instance_name(config: &Config, listener: &TcpListener) -> anyhow::Result<String> {
    if let Some(name) = &config.instance_name {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._:-".contains(c);
        if name.is_empty() || name.len() > 63 || !name.chars().all(allowed) {
            anyhow::bail!("INSTANCE_NAME `{name}`: use 1 to 63 of A-Z a-z 0-9 . _ : -");
        }
        return Ok(name.clone());
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .take(40)
        .collect();
    let host = if host.is_empty() {
        "stocklock".to_owned()
    } else {
        host
    };
    Ok(format!("{host}:{}", listener.local_addr()?.port()))
}

/// An application serving in the background, as tests and the load
/// tester's tests use it. Dropping it shuts the server down gracefully.
pub struct Running {
    pub address: String,
    _stop: oneshot::Sender<()>,
}

impl Application {
    /// Serves in a background task until the returned handle is dropped.
    pub fn spawn(self) -> Running {
        let address = format!("http://127.0.0.1:{}", self.port());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(self.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Running { address, _stop: stop }
    }
}

/// Every backend, built once. None of them connects here: Redis and etcd
/// connect on first use, so the service starts while they are down. `tasks`
/// is where backends run their background work (releases and revokes of
/// locks a request gave up on), so a
/// graceful shutdown waits for it.
fn build_backends(
    config: &Config,
    tasks: &TaskTracker,
    metrics: &Metrics,
) -> anyhow::Result<Vec<Arc<dyn LockBackend>>> {
    let redis = if config.redis_sentinels.is_empty() {
        RedisLock::new(&config.redis_url, tasks.clone()).context("invalid REDIS_URL")?
    } else {
        RedisLock::with_sentinels(
            &config.redis_sentinels,
            &config.redis_sentinel_master,
            tasks.clone(),
        )
        .context("invalid REDIS_SENTINELS")?
    }
    .counting_renewals(metrics.renewal_counters(Backend::Redis))
    .waking(
        Duration::from_millis(config.redis_wakeup_fallback_ms),
        metrics.wakeup_counters(Backend::Redis),
    );
    let etcd = EtcdLock::new(config.etcd_endpoints.clone(), tasks.clone())
        .counting_renewals(metrics.renewal_counters(Backend::Etcd));
    let mut backends: Vec<Arc<dyn LockBackend>> = vec![
        Arc::new(NoLock),
        Arc::new(LocalLock::default()),
        Arc::new(redis),
        Arc::new(etcd),
        Arc::new(PostgresAdvisoryLock),
        Arc::new(AtomicUpdate),
        Arc::new(GroupCommit),
    ];
    if !config.redlock_urls.is_empty() {
        backends.push(Arc::new(
            Redlock::new(&config.redlock_urls).context("invalid REDLOCK_URLS")?,
        ));
    }
    Ok(backends)
}

/// Binds the port with a listen backlog of 1,024 (std's is 128), so that a
/// burst waits in the kernel rather than being refused.
fn listen(config: &Config) -> std::io::Result<TcpListener> {
    let address = std::net::SocketAddr::new(config.host, config.port);
    let socket = if address.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1_024)
}

/// The connection bounds, with the connection limit kept below the
/// open-file limit (raised first), leaving room for the pool and the lock
/// servers' connections.
fn connection_limits(config: &Config) -> serve::Limits {
    let open_files = serve::raise_open_file_limit();
    let room = usize::try_from(open_files.saturating_sub(256))
        .unwrap_or(usize::MAX)
        .max(16);
    let max_connections = config.max_connections.min(room);
    tracing::info!(open_files, max_connections, "connection limits");
    serve::Limits {
        header_timeout: Duration::from_millis(config.header_read_timeout_ms),
        write_timeout: Duration::from_millis(config.write_timeout_ms),
        max_connections,
        shutdown_deadline: Duration::from_millis(config.shutdown_deadline_ms),
    }
}

/// The configured settings, validated by the same rules as `PUT /admin/lock`.
fn initial_settings(config: &Config) -> anyhow::Result<Settings> {
    Settings {
        backend: config.lock_backend,
        ttl: Duration::from_millis(config.lock_ttl_ms),
        acquire_timeout: Duration::from_millis(config.lock_acquire_timeout_ms),
        critical_section: Duration::from_millis(config.critical_section_ms),
        batch_size: config.batch_size,
        check_before_commit: config.check_before_commit,
        renewal: config.renewal,
        fencing: config.fencing,
    }
    .validated()
    .context("invalid lock settings")
}
