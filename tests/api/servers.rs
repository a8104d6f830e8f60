//! Lock servers of a test's own, on free ports: stopping or killing one
//! disturbs no other test. Killed (and their files removed) on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A server process owned by the test; killed (and its files removed) on drop.
pub struct OwnServer {
    child: Child,
    dir: Option<PathBuf>,
    port: u16,
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

impl OwnServer {
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGKILL, as a crash would; the data directory is kept, and returned,
    /// for a restart.
    pub fn crash(mut self) -> Option<PathBuf> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.dir.take()
    }
}

fn spawn(program: &str, args: &[String], dir: Option<PathBuf>, port: u16) -> OwnServer {
    let child = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|err| panic!("could not start {program} (scripts/services installs it): {err}"));
    OwnServer { child, dir, port }
}

pub fn start_redis(port: u16) -> OwnServer {
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
    spawn("redis-server", &args.map(String::from), None, port)
}

pub fn start_etcd(port: u16, peer_port: u16) -> OwnServer {
    let dir = std::env::temp_dir().join(format!("stocklock-etcd-{}", uuid::Uuid::new_v4().simple()));
    start_etcd_in(dir, port, peer_port)
}

/// An etcd on `dir`: a new member if it is empty, the same one again if not.
pub fn start_etcd_in(dir: PathBuf, port: u16, peer_port: u16) -> OwnServer {
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
    spawn("etcd", &args, Some(dir), port)
}

/// Waits (up to 5 s) until something listens on `port`: a server just
/// spawned is not ready at once.
pub fn wait_for_port(port: u16) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
