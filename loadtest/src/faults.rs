//! A phase's faults: the service's own (set on every target before the load,
//! cleared after, their injections collected into the phase's report with
//! their time from the phase's start), and lock servers killed, started, cut
//! off, failed over and partitioned on a schedule through `scripts/services`
//! and `scripts/cluster` — so a student can line up "a holder paused here",
//! "Redis died here" with what the ledger shows.

use serde::{Deserialize, Serialize};
use stocklock_api::{Faults, PausePoint};

use crate::client::Target;
use crate::error::RunError;

/// One injected fault, as the phase report lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseFault {
    /// `pause_holder`, `kill_redis`, `start_redis`, `kill_etcd`, …
    pub kind: String,
    /// Seconds from the start of the phase's load.
    pub at_s: f64,
    /// Which target injected it (`scripts` for a lock server fault).
    pub target: String,
    /// For a paused holder: its SKU, where it paused, for how long.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<PausePoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_ms: Option<u64>,
}

/// What the load tester does to a lock server, through `scripts/services`
/// (`--services`) or `scripts/cluster` (`--cluster`): the verb it passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerAction {
    /// SIGKILL, as a crash would.
    Kill,
    /// Back up (Redis empty: it runs without persistence).
    Start,
    /// Replication from the Redis primary stops, and what was in flight is lost.
    Cut,
    /// The Sentinels promote the replica.
    Failover,
    /// A topology started afresh (before a phase's load).
    Reset,
    /// The nodes named (`primary,i1`) are cut off from all the others.
    Partition,
    /// Every partition undone.
    Heal,
}

impl ServerAction {
    fn verb(self) -> &'static str {
        match self {
            ServerAction::Kill => "kill",
            ServerAction::Start => "start",
            ServerAction::Cut => "cut",
            ServerAction::Failover => "failover",
            ServerAction::Reset => "reset",
            ServerAction::Partition => "partition",
            ServerAction::Heal => "heal",
        }
    }
}

/// Which script a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `scripts/services`: the single servers.
    Services,
    /// `scripts/cluster`: the clustered ones.
    Cluster,
    /// `scripts/cluster --net`: the clustered ones, each node in a network
    /// namespace of its own, so that partitions can cut between them.
    Net,
}

/// The scripts that act on lock servers.
#[derive(Debug, Clone)]
pub struct Scripts {
    pub services: std::path::PathBuf,
    pub cluster: std::path::PathBuf,
}

/// One step of a phase's schedule: at `at_s` seconds into the load, do
/// `action` to `server` (`redis`, `etcd`, `etcd-leader`, `redis-link`, …)
/// through `via`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerFault {
    pub at_s: f64,
    pub action: ServerAction,
    pub server: &'static str,
    pub via: Via,
}

/// Runs `schedule` from `started` on, each step once, in order; returns
/// what was done and when, and tells `done` of each step as it is done (the
/// dashboard marks it). Every step runs even if the load ended early: a
/// server killed must be started again.
pub async fn run_schedule(
    scripts: &Scripts,
    schedule: &[ServerFault],
    started: tokio::time::Instant,
    done_step: impl Fn(&PhaseFault),
) -> Result<Vec<PhaseFault>, RunError> {
    let (mut done, mut failed) = (Vec::with_capacity(schedule.len()), None);
    for step in schedule {
        tokio::time::sleep_until(started + std::time::Duration::from_secs_f64(step.at_s)).await;
        let issued_s = started.elapsed().as_secs_f64();
        if let Err(err) = run_step(scripts, step).await {
            // The later steps still run: a server killed must be started again.
            failed.get_or_insert(err);
            continue;
        }
        let fault = PhaseFault {
            kind: format!("{}_{}", step.action.verb(), step.server.replace(['-', ','], "_")),
            at_s: issued_s,
            target: "scripts".to_owned(),
            sku: None,
            at: None,
            pause_ms: None,
        };
        done_step(&fault);
        done.push(fault);
    }
    match failed {
        Some(err) => Err(err),
        None => Ok(done),
    }
}

/// Runs one step's script and waits for it.
pub async fn run_step(scripts: &Scripts, step: &ServerFault) -> Result<(), RunError> {
    let (script, mode) = match step.via {
        Via::Services => (&scripts.services, None),
        Via::Cluster => (&scripts.cluster, None),
        Via::Net => (&scripts.cluster, Some("--net")),
    };
    let verb = step.action.verb();
    let status = tokio::process::Command::new(script)
        .args(mode)
        .args([verb, step.server])
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .map_err(|err| RunError::Options(format!("could not run {}: {err}", script.display())))?;
    if !status.success() {
        return Err(RunError::Options(format!(
            "{} {verb} {} failed ({status})",
            script.display(),
            step.server
        )));
    }
    Ok(())
}

/// Sets `faults` on every target (the default clears them).
pub async fn set_all(targets: &[Target], faults: &Faults) -> Result<(), RunError> {
    for target in targets {
        target.set_faults(faults).await?;
    }
    Ok(())
}

/// The injections every target reports since `started_unix_ms`, target by
/// target (the phase sorts them in time with its own server faults).
pub async fn collect(targets: &[Target], started_unix_ms: u64) -> Result<Vec<PhaseFault>, RunError> {
    let mut faults = Vec::new();
    for target in targets {
        let reported = target.faults().await?;
        faults.extend(since(&target.base, &reported, started_unix_ms));
    }
    Ok(faults)
}

fn since(target: &str, reported: &Faults, started_unix_ms: u64) -> Vec<PhaseFault> {
    reported
        .recent
        .iter()
        .filter(|event| event.at_unix_ms >= started_unix_ms)
        .map(|event| PhaseFault {
            kind: event.kind.clone(),
            at_s: (event.at_unix_ms - started_unix_ms) as f64 / 1000.0,
            target: target.to_owned(),
            sku: Some(event.sku.clone()),
            at: Some(event.at),
            pause_ms: Some(event.pause_ms),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use stocklock_api::FaultEvent;

    use super::*;

    #[test]
    fn only_the_phases_own_injections_are_kept_timed_from_its_start() {
        let event = |at_unix_ms| FaultEvent {
            kind: "pause_holder".into(),
            at_unix_ms,
            sku: "s".into(),
            at: PausePoint::BeforeWrite,
            pause_ms: 800,
        };
        let reported = Faults {
            recent: vec![event(9_000), event(10_500)],
            ..Faults::default()
        };
        let kept = since("http://a", &reported, 10_000);
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].at_s, kept[0].target.as_str()), (0.5, "http://a"));
        assert_eq!(kept[0].pause_ms, Some(800));
    }
}
