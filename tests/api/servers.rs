//! Servers of a test's own, on free ports — Redis and etcd (the lock
//! servers) and PostgreSQL (the ledger): stopping or killing one disturbs no
//! other test. Stopped (and their files removed) on drop, panics included.

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
    /// Its process id, to read its memory from `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

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

/// A stocklock instance as a process of its own, so that its memory can be
/// measured apart from the tests': the servers come from the tests' own
/// environment (`scripts/services env`), `settings` adds to it.
pub fn start_instance(port: u16, settings: &[(&str, &str)]) -> OwnServer {
    let child = Command::new(env!("CARGO_BIN_EXE_stocklock"))
        .env("PORT", port.to_string())
        .envs(settings.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the stocklock binary starts");
    OwnServer {
        child,
        dir: None,
        port,
    }
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

/// A PostgreSQL cluster of the test's own: `initdb` in a temporary
/// directory, serving a `stocklock` database on a free port. Unlike
/// [`OwnServer`] it is not a child process: `pg_ctl` starts the postmaster
/// as a daemon, which is what lets [`OwnPostgres::stop`] and
/// [`OwnPostgres::start_again`] take it down and bring it back on the same
/// port and data directory, as an operator's restart does. Stopped
/// (`immediate`) and its directory removed on drop.
pub struct OwnPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        // Already stopped is fine: the status is ignored.
        let _ = self.pg_ctl(&["stop", "--mode=immediate"]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl OwnPostgres {
    /// A new cluster, started, with an empty `stocklock` database (the
    /// application migrates it). Same binaries and options as
    /// `scripts/services`: trust authentication for the user `stocklock`.
    pub fn start(port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("stocklock-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).expect("a directory for PostgreSQL");
        let postgres = OwnPostgres {
            bin: pg_bin(),
            dir,
            port,
        };
        if running_as_root() {
            // PostgreSQL refuses to run as root; its user must own the data.
            run(Command::new("chown").arg("postgres:postgres").arg(&postgres.dir));
        }
        run(postgres
            .as_postgres("initdb")
            .arg("--pgdata")
            .arg(postgres.data())
            .args([
                "--username=stocklock",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-locale",
            ]));
        postgres.start_again();
        run(Command::new(postgres.bin.join("createdb")).args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "stocklock",
            "stocklock",
        ]));
        postgres
    }

    /// The URL the application connects to.
    pub fn url(&self) -> String {
        format!("postgres://stocklock@127.0.0.1:{}/stocklock", self.port)
    }

    /// `pg_ctl stop -m fast`: open transactions are rolled back and their
    /// connections closed, as in an operator's restart. Blocks until down.
    pub fn stop(&self) {
        run(&mut self.pg_ctl(&["stop", "--mode=fast"]));
    }

    /// Starts the cluster (again) on its port and data directory; blocks
    /// until it accepts connections. While it was down another test could,
    /// in principle, have bound the port; `pg_ctl` then fails loudly here.
    pub fn start_again(&self) {
        let log = self.dir.join("postgres.log");
        // TCP only: no Unix socket in a directory the user may not own.
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories=''",
            self.port
        );
        let started = self
            .pg_ctl(&["start", "--log", &log.display().to_string(), "-o", &options])
            .output()
            .expect("pg_ctl runs");
        // The log is removed with the directory on drop: show it now.
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(started.status.success(), "pg_ctl start failed:\n{log}");
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl(&self, args: &[&str]) -> Command {
        let mut command = self.as_postgres("pg_ctl");
        command.args(args).args([
            "--pgdata",
            &self.data().display().to_string(),
            "--wait",
            "--silent",
        ]);
        command
    }

    /// `program` from PostgreSQL's binaries, run as the `postgres` user when
    /// we are root (`runuser`, as `scripts/services`' `as_pg`), from `/`,
    /// which that user may enter.
    fn as_postgres(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        let mut command = if running_as_root() {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(program);
            runuser
        } else {
            Command::new(program)
        };
        command.current_dir("/");
        command
    }
}

/// Runs `command` to its end; panics with its output if it failed.
fn run(command: &mut Command) {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The newest `/usr/lib/postgresql/<version>/bin`, as `scripts/services`
/// picks it (Debian's packages put PostgreSQL's server binaries there).
fn pg_bin() -> PathBuf {
    let versions =
        std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL (scripts/services installs it)");
    versions
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .map(|version| PathBuf::from(format!("/usr/lib/postgresql/{version}/bin")))
        .expect("no version under /usr/lib/postgresql")
}

/// Whether this process runs as root: `/proc/self` belongs to our user.
fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}
