//! The `failover` scenario end to end, on a cluster of the test's own
//! (`scripts/cluster`, its ports shifted, its own state dir): a Redis behind
//! Sentinels failed over with locks in flight, and a three-member etcd whose
//! leader is killed, against two real instances.
//!
//! The lesson must reproduce: unfenced, the failed-over Redis lock admits a
//! second holder; fenced, nothing is oversold; etcd never has two holders;
//! Redlock survives one master of five, and refuses without a majority.

mod cluster;

use cluster::{Cluster, assert_safe, phase, run_scenario};
use stocklock::config::Config;
use stocklock::startup::{Application, Running};

/// The cluster's ports are the defaults plus this: clear of a cluster that
/// `loadtest/workshop --scenario failover` may run, and of scripts/test-cluster's.
const OFFSET: u32 = 200;

async fn spawn_instance(cluster: &Cluster) -> Running {
    let mut config = Config::defaults();
    config.port = 0;
    config.db_max_connections = 10;
    config.redis_sentinels = cluster.env_list("REDIS_SENTINELS");
    config.redis_sentinel_master = cluster.env("REDIS_SENTINEL_MASTER");
    config.etcd_endpoints = cluster.env_list("ETCD_ENDPOINTS");
    config.redlock_urls = cluster.env_list("REDLOCK_URLS");
    Application::build(&config)
        .await
        .expect("stocklock starts")
        .spawn()
}

#[tokio::test]
async fn a_failed_over_redis_lock_admits_a_second_holder_unless_fenced_and_etcd_never_does() {
    let cluster = Cluster::start(OFFSET, false);
    let (first, second) = (spawn_instance(&cluster).await, spawn_instance(&cluster).await);
    let json = run_scenario(&cluster, "failover", [&first.address, &second.address]).await;

    let unfenced = phase(&json, "redis failover unfenced");
    assert!(
        unfenced["verdict"]["overlapping_holds"].as_i64().unwrap() > 0,
        "the failover admitted no second holder: {unfenced:#}"
    );
    let safe_phases = [
        "redis failover fenced",
        "etcd leader killed",
        "redlock one master killed",
        "redlock three masters killed",
    ];
    for label in safe_phases {
        assert_safe(&json, label);
    }
    let kinds: Vec<&str> = phase(&json, "etcd leader killed")["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["kill_etcd_leader", "start_etcd3"]);
    // The time to recover, as clients saw it: the election, and the locks of
    // sessions whose keep-alive went to the dead leader, which expire with
    // their lease (a 5 s TTL) — bounded, not instant.
    let recovery = phase(&json, "etcd leader killed")["recovery_s"]
        .as_f64()
        .expect("recovery_s");
    assert!(recovery < 8.0, "{recovery} s without a sale");
    // Three masters of five down: no majority, so 503s.
    let three = phase(&json, "redlock three masters killed");
    assert!(
        three["counts"]["lock_unavailable"].as_i64().unwrap() > 0,
        "{three:#}"
    );
}
