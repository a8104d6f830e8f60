//! Configuration, from flags or environment variables (clap derive).
//!
//! Every default matches what `scripts/services start` and
//! `docker-compose.yml` bring up, so `cargo run` works with no flags at all.
//! The doc comment of each field is its `--help` text. Redis Sentinel
//! (`REDIS_SENTINELS`) and Redlock (`REDLOCK_URLS`, whose backend exists
//! only when it is set) come from `scripts/cluster`. Every setting, with its
//! flag and default, is listed in `docs/api.md` (a test keeps it complete).

use std::net::IpAddr;

use clap::Parser;
use stocklock_api::Backend;

#[derive(Debug, Clone, Parser)]
#[command(name = "stocklock", version, about)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// The bearer token every `/admin/` route requires
    /// (`Authorization: Bearer …`). Unset: admin routes are open, so the
    /// service then refuses to start on any but a loopback address.
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Host names (comma-separated) accepted in the `Host` header besides
    /// IP addresses and `localhost`, e.g. Compose's service names; any other
    /// name is refused, which closes DNS rebinding.
    #[arg(long, env = "ALLOWED_HOSTS", value_delimiter = ',')]
    pub allowed_hosts: Vec<String>,

    /// This instance's name, recorded on every order it commits, so the
    /// dashboard's timeline can give each instance its own lane: 1 to 63 of
    /// `A-Z a-z 0-9 . _ : -`. Default: the host's name and the port bound,
    /// e.g. `laptop:8080`.
    #[arg(long, env = "INSTANCE_NAME")]
    pub instance_name: Option<String>,

    /// Port to listen on; 0 picks a free one (the tests do).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,

    /// PostgreSQL holding the products and the order ledger.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://stocklock@127.0.0.1:55432/stocklock"
    )]
    pub database_url: String,

    /// Size of the PostgreSQL connection pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Orders one instance admits at once; past it, an order is answered
    /// 503 `overloaded` at once instead of queueing for the lock or the
    /// pool (a bounded queue, so overload is refused promptly).
    #[arg(long, env = "MAX_ORDERS_IN_FLIGHT", default_value_t = 512)]
    pub max_orders_in_flight: usize,

    /// How long a client may take to send a request's headers before its
    /// connection is closed (slow or half-open clients).
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,

    /// How long a client may take to send a request's body.
    #[arg(long, env = "BODY_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub body_read_timeout_ms: u64,

    /// How long an answer may wait for a client to read it: a client that
    /// stops reading must not hold its connection forever.
    #[arg(long, env = "WRITE_TIMEOUT_MS", default_value_t = 10_000)]
    pub write_timeout_ms: u64,

    /// Connections served at once; more wait in the listen backlog. Capped
    /// at start-up below the open-file limit, which is raised to its hard
    /// limit first.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 4_096)]
    pub max_connections: usize,

    /// On shutdown, how long open connections get to finish their requests
    /// before they are dropped (orders already running still finish).
    #[arg(long, env = "SHUTDOWN_DEADLINE_MS", default_value_t = 30_000)]
    pub shutdown_deadline_ms: u64,

    /// Redis used by the `redis` lock backend.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:56379")]
    pub redis_url: String,

    /// Sentinels (comma-separated `redis://` URLs) to ask where the Redis
    /// master is; when set, the `redis` backend follows their master
    /// through failovers and `REDIS_URL` is not used.
    #[arg(long, env = "REDIS_SENTINELS", value_delimiter = ',')]
    pub redis_sentinels: Vec<String>,

    /// Independent Redis masters (comma-separated `redis://` URLs) for the
    /// `redlock` backend, which is available only when they are given.
    #[arg(long, env = "REDLOCK_URLS", value_delimiter = ',')]
    pub redlock_urls: Vec<String>,

    /// The longest a `redis` waiter sleeps when no release is announced,
    /// in milliseconds: what a lost message or a foreign client that never
    /// publishes costs a waiter at most.
    #[arg(long, env = "REDIS_WAKEUP_FALLBACK_MS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub redis_wakeup_fallback_ms: u64,

    /// The name the Sentinels monitor the master under.
    #[arg(long, env = "REDIS_SENTINEL_MASTER", default_value = "stocklock")]
    pub redis_sentinel_master: String,

    /// etcd endpoints (comma-separated) used by the `etcd` lock backend.
    #[arg(
        long,
        env = "ETCD_ENDPOINTS",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:52379"
    )]
    pub etcd_endpoints: Vec<String>,

    /// Lock backend at start-up: none, local, redis, etcd, postgres, atomic,
    /// or redlock (with REDLOCK_URLS).
    #[arg(long, env = "LOCK_BACKEND", default_value = "atomic")]
    pub lock_backend: Backend,

    /// Time-to-live of a distributed lock (redis, etcd), in milliseconds.
    #[arg(long, env = "LOCK_TTL_MS", default_value_t = 5_000)]
    pub lock_ttl_ms: u64,

    /// How long a request waits for a lock before it gets a 503, in milliseconds.
    #[arg(long, env = "LOCK_ACQUIRE_TIMEOUT_MS", default_value_t = 3_000)]
    pub lock_acquire_timeout_ms: u64,

    /// Simulated business work inside the critical section, in milliseconds.
    /// Widens the race window so that `none` oversells visibly.
    #[arg(long, env = "CRITICAL_SECTION_MS", default_value_t = 0)]
    pub critical_section_ms: u64,

    /// Check that the lock is still held right before writing (false: the
    /// article's naive lock).
    #[arg(long, env = "CHECK_BEFORE_COMMIT", default_value_t = true, action = clap::ArgAction::Set)]
    pub check_before_commit: bool,

    /// Keep a lock alive while its holder works (false: it lives exactly
    /// its TTL).
    #[arg(long, env = "RENEWAL", default_value_t = true, action = clap::ArgAction::Set)]
    pub renewal: bool,

    /// `batch`: the most orders one batch applies and commits together.
    #[arg(long, env = "BATCH_SIZE", default_value_t = 100)]
    pub batch_size: u64,

    /// Fencing tokens: PostgreSQL refuses a write under a stale lock.
    #[arg(long, env = "FENCING", default_value_t = true, action = clap::ArgAction::Set)]
    pub fencing: bool,
}

impl Config {
    /// The configuration with every default, as the tests start from.
    pub fn defaults() -> Self {
        Config::parse_from(["stocklock"])
    }
}
