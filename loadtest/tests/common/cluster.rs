//! The tests' own cluster: `scripts/cluster` (its ports shifted, its own
//! state dir), on loopback or in network mode, stopped when dropped; an
//! instance's settings pointed at it; and a scenario run on it.
//!
//! Each test that breaks lock servers starts a cluster of its own, with its
//! own offset and state directory: never a cluster shared between tests
//! that could race.

use std::path::PathBuf;
use std::process::{Command, Output};

use loadtest::report::Report;
use stocklock::config::Config;

use super::run_args;

/// A cluster of the test's own; stopped when dropped.
pub struct Cluster {
    /// `scripts/cluster`, wrapped so that every call acts on our cluster.
    pub script: PathBuf,
    /// Its state directory (the wrapper lives there too).
    pub state: PathBuf,
    /// `--net` (network mode) or nothing.
    mode: Vec<&'static str>,
}

impl Cluster {
    /// Starts every topology of `scripts/cluster` (`--net`: network mode),
    /// its ports and addresses shifted by `offset`.
    pub fn start(offset: u32, net: bool) -> Cluster {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let state = std::env::temp_dir().join(format!("stocklock-cluster-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&state).unwrap();
        let script = state.join("scripts-cluster");
        let wrapper = format!(
            "#!/bin/sh\nSTOCKLOCK_CLUSTER_OFFSET={offset} STOCKLOCK_STATE_DIR={} exec {} \"$@\"\n",
            state.display(),
            root.join("scripts/cluster").display()
        );
        std::fs::write(&script, wrapper).unwrap();
        Command::new("chmod").arg("+x").arg(&script).status().unwrap();
        let mode = if net { vec!["--net"] } else { Vec::new() };
        let cluster = Cluster { script, state, mode };
        let started = cluster.run(&["start"]);
        let log = String::from_utf8_lossy(&started.stderr);
        assert!(started.status.success(), "scripts/cluster start failed: {log}");
        cluster
    }

    /// `scripts/cluster [--net] ARGS`, waited for.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("scripts/cluster runs")
    }

    /// `scripts/cluster [--net] ARGS`, to be run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.script);
        command.args(&self.mode).args(args);
        command
    }

    /// `KEY=value` lines of `scripts/cluster env`.
    pub fn env(&self, key: &str) -> String {
        let out = String::from_utf8(self.run(&["env"]).stdout).unwrap();
        out.lines()
            .find_map(|line| line.strip_prefix(&format!("export {key}=")))
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .to_owned()
    }

    /// A comma-separated value of `scripts/cluster env`, split.
    pub fn env_list(&self, key: &str) -> Vec<String> {
        self.env(key).split(',').map(String::from).collect()
    }

    /// Points an instance's lock servers at this cluster's.
    pub fn configure(&self, config: &mut Config) {
        config.redis_sentinels = self.env_list("REDIS_SENTINELS");
        config.redis_sentinel_master = self.env("REDIS_SENTINEL_MASTER");
        config.etcd_endpoints = self.env_list("ETCD_ENDPOINTS");
        config.redlock_urls = self.env_list("REDLOCK_URLS");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.run(&["stop"]);
        // etcd's data (its log preallocates 64 MB a member) goes too.
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

/// Runs `scenario` at a reduced size (16 buyers) against the instances at
/// `targets`, breaking `cluster`; returns the report.
/// The admin token of instances that listen off loopback (network mode):
/// the service refuses to start there without one. Instances on loopback
/// need none, and ignore it.
pub const ADMIN_TOKEN: &str = "cluster-test-token";

pub async fn run_scenario(cluster: &Cluster, scenario: &str, targets: [&str; 2]) -> Report {
    let argv = [
        "loadtest",
        "run",
        "--no-progress",
        "--scenario",
        scenario,
        "--buyers",
        "16",
        "--targets",
        &targets.join(","),
        "--sku-prefix",
        &format!("{scenario}-{}", uuid::Uuid::new_v4().simple()),
        "--database-url",
        &Config::defaults().database_url,
        "--cluster",
        &cluster.script.display().to_string(),
        "--admin-token",
        ADMIN_TOKEN,
    ];
    loadtest::run(&run_args(argv)).await.expect("the run completes")
}
