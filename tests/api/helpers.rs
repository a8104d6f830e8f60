//! Starting the application for a test, and talking to it.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use stocklock::config::Config;
use stocklock::startup::{Application, Running};
use stocklock::telemetry;
use stocklock_api::{Audit, Backend, Health, LedgerPage, LockSettings, LockSettingsUpdate, Order, OrderList};
use tokio::task::JoinSet;

/// A running instance of the application.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Dropping it stops the server gracefully (see [`TestApp::shut_down`]).
    running: Option<Running>,
}

/// Starts the application with its default configuration on a free port.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application after `configure` has adjusted its configuration.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        telemetry::init(std::io::stdout);
    }
    let mut config = Config::defaults();
    config.port = 0;
    config.db_max_connections = 10;
    configure(&mut config);
    let app = Application::build(&config).await.expect(
        "the application did not start: are PostgreSQL, Redis and etcd running? (scripts/services start)",
    );
    let running = app.spawn();
    TestApp {
        address: running.address.clone(),
        client: reqwest::Client::new(),
        running: Some(running),
    }
}

/// A SKU no other test uses.
pub fn unique_sku() -> String {
    format!("t-{}", uuid::Uuid::new_v4().simple())
}

/// How a batch of orders ended, by status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub created: i64,
    pub out_of_stock: i64,
    /// 409 `lock_lost`: refused because the holder's lock was lost.
    pub lock_lost: i64,
    pub unavailable: i64,
    pub other: i64,
}

impl TestApp {
    /// Starts a graceful shutdown, as SIGTERM does; returns at once.
    pub fn shut_down(&mut self) {
        self.running = None;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn reset(&self, sku: &str, stock: i64) {
        let response = self
            .put(&format!("/admin/products/{sku}"), &json!({ "stock": stock }))
            .await;
        assert_eq!(response.status(), StatusCode::OK, "reset {sku}");
    }

    pub async fn put(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .expect("PUT failed")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET failed")
    }

    pub async fn post_order(&self, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/orders"))
            .json(body)
            .send()
            .await
            .expect("POST failed")
    }

    pub async fn order(&self, sku: &str, quantity: i64) -> reqwest::Response {
        self.post_order(&json!({ "sku": sku, "quantity": quantity }))
            .await
    }

    /// Places an order in a task of its own, to be awaited later: the
    /// holder a test then watches others contend with.
    pub fn order_in_background(
        &self,
        sku: &str,
        quantity: i64,
    ) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
        let request = self
            .client
            .post(self.url("/orders"))
            .json(&json!({ "sku": sku, "quantity": quantity }));
        tokio::spawn(request.send())
    }

    /// `POST /admin/drain`: waits until no order is in flight.
    pub async fn drain(&self) -> reqwest::Response {
        self.client
            .post(self.url("/admin/drain"))
            .send()
            .await
            .expect("drain")
    }

    pub async fn audit(&self, sku: &str) -> Audit {
        let response = self.get(&format!("/admin/audit/{sku}")).await;
        assert_eq!(response.status(), StatusCode::OK, "audit {sku}");
        response.json().await.expect("audit body")
    }

    /// `GET /admin/orders/{sku}`: the orders, their sections, the refusals.
    pub async fn orders(&self, sku: &str) -> OrderList {
        let response = self.get(&format!("/admin/orders/{sku}")).await;
        assert_eq!(response.status(), StatusCode::OK, "orders of {sku}");
        response.json().await.expect("order list body")
    }

    /// `GET /admin/ledger/{sku}?after=…`: the orders written since `after`.
    pub async fn ledger_page(&self, sku: &str, after: i64) -> LedgerPage {
        let response = self.get(&format!("/admin/ledger/{sku}?after={after}")).await;
        assert_eq!(response.status(), StatusCode::OK, "ledger of {sku} after {after}");
        response.json().await.expect("ledger page body")
    }

    /// This instance's name, as `/health` gives it.
    pub async fn instance(&self) -> String {
        let health: Health = self.get("/health").await.json().await.expect("health body");
        health.instance
    }

    /// `GET /admin/lock` with a bearer token, for instances that need one.
    pub async fn lock_settings_as(&self, token: Option<&str>) -> LockSettings {
        let mut request = self.client.get(self.url("/admin/lock"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap().json().await.unwrap()
    }

    pub async fn lock_settings(&self) -> LockSettings {
        self.lock_settings_as(None).await
    }

    pub async fn set_lock(&self, update: LockSettingsUpdate) -> LockSettings {
        let response = self
            .put("/admin/lock", &serde_json::to_value(update).unwrap())
            .await;
        assert_eq!(response.status(), StatusCode::OK, "PUT /admin/lock");
        response.json().await.expect("settings body")
    }

    /// Switches to `backend` with a critical section of `critical_ms`.
    pub async fn use_backend(&self, backend: Backend, critical_ms: u64) {
        let settings = self
            .set_lock(LockSettingsUpdate {
                backend: Some(backend),
                critical_section_ms: Some(critical_ms),
                acquire_timeout_ms: Some(10_000),
                ..Default::default()
            })
            .await;
        assert_eq!(settings.backend, backend);
    }
}

/// Fires `count` single-unit orders for `sku` all at once, spread round-robin
/// over `apps`, and tallies the answers. Every 201 is checked for shape.
pub async fn buy_concurrently(apps: &[&TestApp], sku: &str, count: usize) -> Tally {
    let mut requests = JoinSet::new();
    for i in 0..count {
        let app = apps[i % apps.len()];
        let (client, url, sku) = (app.client.clone(), app.url("/orders"), sku.to_owned());
        requests.spawn(async move {
            let response = client
                .post(url)
                .json(&json!({ "sku": sku, "quantity": 1 }))
                .timeout(Duration::from_secs(60))
                .send()
                .await
                .expect("order request failed");
            let status = response.status();
            let body = response.text().await.expect("a body");
            if status == StatusCode::CREATED {
                let order: Order = serde_json::from_str(&body).expect("order body");
                assert_eq!((order.sku.as_str(), order.quantity), (sku.as_str(), 1));
            }
            (status, body)
        });
    }
    let mut tally = Tally::default();
    while let Some(answer) = requests.join_next().await {
        match answer.expect("order task panicked") {
            (StatusCode::CREATED, _) => tally.created += 1,
            (StatusCode::CONFLICT, body) if body.contains("\"lock_lost\"") => tally.lock_lost += 1,
            (StatusCode::CONFLICT, _) => tally.out_of_stock += 1,
            (StatusCode::SERVICE_UNAVAILABLE, _) => tally.unavailable += 1,
            _ => tally.other += 1,
        }
    }
    tally
}

/// The error code of an error response, after checking its status.
pub async fn error_code(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("error body is JSON");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body["error"].as_str().expect("error code").to_owned()
}

/// A port for a server the test starts as a *child process* (its own Redis
/// or etcd), which cannot be handed a listener bound here.
///
/// Binding port 0 and releasing it would hand out a port from the kernel's
/// ephemeral range, which the kernel may give to the next port-0 bind or
/// outgoing connection of any test running in parallel before the child
/// binds it. So the port is taken from 20000–29999, below Linux's ephemeral
/// range (32768–60999): only other explicit binds can take it, and the
/// check below skips those. In-process servers bind port 0 and keep their
/// listener instead (see `Application::build`, `lock_promises::hung_server`).
pub fn port_for_child() -> u16 {
    let start = 20_000 + (uuid::Uuid::new_v4().as_u128() % 10_000) as u16;
    (0..10_000u16)
        .map(|offset| 20_000 + (start - 20_000 + offset) % 10_000)
        .find(|&port| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok())
        .expect("no free port in 20000-29999")
}

/// A pool on the tests' database, for reading what the service wrote.
pub async fn database() -> PgPool {
    PgPool::connect(&Config::defaults().database_url)
        .await
        .expect("DATABASE_URL")
}

/// Waits (up to 10 s) until an order for `sku` holds its PostgreSQL
/// advisory lock (`postgres` backend): observable proof that the order is
/// pinned to its backend and inside its critical section — no fixed sleep
/// standing in for "it has probably started by now".
pub async fn wait_until_an_order_holds_the_lock(db: &PgPool, sku: &str) {
    // A 64-bit advisory key is split into classid (high) and objid (low).
    let query = "SELECT count(*) FROM pg_locks
                 WHERE locktype = 'advisory' AND granted
                   AND ((classid::bigint << 32) | objid::bigint) = hashtextextended($1, 0)";
    let key = format!("stock:{sku}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let held: i64 = sqlx::query_scalar(query)
            .bind(&key)
            .fetch_one(db)
            .await
            .expect("pg_locks");
        if held > 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no order took the lock on {sku} within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
