//! Losing a lock server: orders get a clear 503 and change nothing, and the
//! service recovers by itself when the server comes back.
//!
//! Each test runs a Redis or etcd of its own on a free port, so stopping it
//! does not disturb the shared servers other tests are using.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use stocklock_api::Backend;

use crate::helpers::{TestApp, error_code, port_for_child, spawn_app_with, unique_sku};

/// A server process owned by the test; killed (and its files removed) on drop.
struct OwnServer {
    child: Child,
    dir: Option<PathBuf>,
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn spawn(program: &str, args: &[String], dir: Option<PathBuf>) -> OwnServer {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("could not start {program} (scripts/services installs it): {err}"));
    OwnServer { child, dir }
}

fn start_redis(port: u16) -> OwnServer {
    let args = [
        "--bind",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--save",
        "",
        "--appendonly",
        "no",
    ];
    spawn("redis-server", &args.map(String::from), None)
}

fn start_etcd(port: u16, peer_port: u16) -> OwnServer {
    let dir = std::env::temp_dir().join(format!("stocklock-etcd-{}", uuid::Uuid::new_v4().simple()));
    let (client, peer) = (
        format!("http://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{peer_port}"),
    );
    let args = [
        "--name".into(),
        "outage".into(),
        "--data-dir".into(),
        dir.display().to_string(),
        "--listen-client-urls".into(),
        client.clone(),
        "--advertise-client-urls".into(),
        client,
        "--listen-peer-urls".into(),
        peer.clone(),
        "--initial-advertise-peer-urls".into(),
        peer.clone(),
        "--initial-cluster".into(),
        format!("outage={peer}"),
        "--logger=zap".into(),
    ];
    spawn("etcd", &args, Some(dir))
}

/// Orders until one gets `status` (within 20 s); returns how many were 201.
async fn order_until(app: &TestApp, sku: &str, status: StatusCode) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut created = 0;
    loop {
        let response = app.order(sku, 1).await;
        let got = response.status();
        created += i64::from(got == StatusCode::CREATED);
        if got == status {
            return created;
        }
        assert!(
            got == StatusCode::CREATED || got == StatusCode::SERVICE_UNAVAILABLE,
            "unexpected {got}"
        );
        assert!(Instant::now() < deadline, "never got {status}; last was {got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Down at start → 503 and nothing changed; up → 201; down again → 503;
/// up again → 201.
async fn outage_and_recovery(app: TestApp, backend: Backend, start_server: impl Fn() -> OwnServer) {
    app.use_backend(backend, 0).await;
    let sku = unique_sku();
    app.reset(&sku, 100).await;

    let code = error_code(app.order(&sku, 1).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(code, "lock_unavailable");
    let audit = app.audit(&sku).await;
    assert_eq!((audit.stock, audit.orders), (100, 0), "a 503 changed the ledger");

    let server = start_server();
    let mut created = order_until(&app, &sku, StatusCode::CREATED).await;
    drop(server);
    created += order_until(&app, &sku, StatusCode::SERVICE_UNAVAILABLE).await;
    // Lost while connected, then back: the client must reconnect by itself.
    let server = start_server();
    created += order_until(&app, &sku, StatusCode::CREATED).await;
    drop(server);

    let audit = app.audit(&sku).await;
    assert_eq!(audit.orders, created, "clients and ledger disagree: {audit:?}");
    assert_eq!(
        (audit.stock, audit.consistent),
        (100 - created, true),
        "{audit:?}"
    );
}

#[tokio::test]
async fn a_lost_redis_gives_503s_and_the_service_recovers() {
    let port = port_for_child();
    let app = spawn_app_with(|config| config.redis_url = format!("redis://127.0.0.1:{port}")).await;
    outage_and_recovery(app, Backend::Redis, || start_redis(port)).await;
}

#[tokio::test]
async fn a_lost_etcd_gives_503s_and_the_service_recovers() {
    let port = port_for_child();
    let peer_port = std::iter::repeat_with(port_for_child)
        .find(|&p| p != port)
        .expect("a second port");
    let app = spawn_app_with(|config| config.etcd_endpoints = vec![format!("http://127.0.0.1:{port}")]).await;
    outage_and_recovery(app, Backend::Etcd, || start_etcd(port, peer_port)).await;
}
