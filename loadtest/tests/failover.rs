//! The `failover` scenario end to end, on a cluster of the test's own
//! (`scripts/cluster`, its ports shifted, its own state dir): a Redis behind
//! Sentinels failed over with locks in flight, and a three-member etcd whose
//! leader is killed, against two real instances.
//!
//! The lesson must reproduce: unfenced, the failed-over Redis lock admits a
//! second holder; fenced, nothing is oversold; etcd never has two holders;
//! Redlock survives one master of five, and refuses without a majority.

mod common;

use common::cluster::{Cluster, run_scenario};
use common::{assert_safe, phase, spawn_instance_with};

/// The cluster's ports are the defaults plus this: clear of a cluster that
/// `loadtest/workshop --scenario failover` may run, and of scripts/test-cluster's.
const OFFSET: u32 = 200;

#[tokio::test]
async fn a_failed_over_redis_lock_admits_a_second_holder_unless_fenced_and_etcd_never_does() {
    let cluster = Cluster::start(OFFSET, false);
    let on_cluster = |config: &mut _| cluster.configure(config);
    let (first, second) = (
        spawn_instance_with(on_cluster).await,
        spawn_instance_with(on_cluster).await,
    );
    let report = run_scenario(&cluster, "failover", [&first.address, &second.address]).await;

    let unfenced = phase(&report, "redis failover unfenced");
    assert!(
        unfenced.verdict.overlapping_holds > 0,
        "the failover admitted no second holder: {unfenced:#?}"
    );
    let safe_phases = [
        "redis failover fenced",
        "etcd leader killed",
        "redlock one master killed",
        "redlock three masters killed",
    ];
    for label in safe_phases {
        assert_safe(&report, label);
    }
    let etcd = phase(&report, "etcd leader killed");
    let kinds: Vec<&str> = etcd.faults.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(kinds, ["kill_etcd_leader", "start_etcd3"]);
    // The time to recover, as clients saw it: the election, and the locks of
    // sessions whose keep-alive went to the dead leader, which expire with
    // their lease (a 5 s TTL) — bounded, not instant.
    let recovery = etcd.recovery_s.expect("recovery_s");
    assert!(recovery < 8.0, "{recovery} s without a sale");
    // Three masters of five down: no majority, so 503s.
    let three = phase(&report, "redlock three masters killed");
    assert!(three.counts.lock_unavailable > 0, "{three:#?}");

    // After the failover, a release still wakes the other instance's
    // waiter: the subscription followed the Sentinels to the new master.
    let targets = [first.address.as_str(), second.address.as_str()];
    let before = woken_by_release(targets).await;
    contend_on_redis(targets).await;
    let after = woken_by_release(targets).await;
    assert!(
        after > before,
        "no waiter was woken by a release after the failover ({before} → {after})"
    );
}

/// `stocklock_lock_wakeups_total{backend="redis",by="release"}`, summed
/// over `targets`.
async fn woken_by_release(targets: [&str; 2]) -> u64 {
    let mut woken = 0;
    for target in targets {
        let text = reqwest::get(format!("{target}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        woken += text
            .lines()
            .find(|line| {
                line.starts_with("stocklock_lock_wakeups_total{")
                    && line.contains("by=\"release\"")
                    && line.contains("backend=\"redis\"")
            })
            .and_then(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or(0);
    }
    woken
}

/// Sixteen buyers, over both instances, for one SKU under `redis` with
/// 50 ms of work: every one of them but the first waits.
async fn contend_on_redis(targets: [&str; 2]) {
    let client = reqwest::Client::new();
    let sku = format!("woken-{}", std::process::id());
    for target in targets {
        let settings = serde_json::json!({ "backend": "redis", "critical_section_ms": 50 });
        let response = client
            .put(format!("{target}/admin/lock"))
            .json(&settings)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{response:?}");
    }
    let stock = serde_json::json!({ "stock": 16 });
    let response = client
        .put(format!("{}/admin/products/{sku}", targets[0]))
        .json(&stock)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");
    let mut buyers = tokio::task::JoinSet::new();
    for buyer in 0..16 {
        let (client, url) = (client.clone(), format!("{}/orders", targets[buyer % 2]));
        let order = serde_json::json!({ "sku": sku, "quantity": 1 });
        buyers.spawn(async move { client.post(url).json(&order).send().await.unwrap().status() });
    }
    while let Some(status) = buyers.join_next().await {
        assert_eq!(status.unwrap().as_u16(), 201);
    }
}
