//! `loadtest raw`: how many requests per second can this load tester push?
//!
//! A load tester that is slower than the service measures itself. This mode
//! sends GETs on one URL from `-c` connections for `-d` seconds, like
//! `wrk -c N -d D URL`, so `loadtest/bench-vs-wrk` can put the two side by
//! side on the same machine in the same run.

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::cli::RawArgs;
use crate::http::{ConnPool, authority_of};
use crate::stats::per_second;

#[derive(Debug, Clone, Copy, Serialize)]
pub struct RawResult {
    pub connections: usize,
    pub elapsed_s: f64,
    pub ok: u64,
    pub errors: u64,
    pub requests_per_s: f64,
}

/// `None` unless `args.url` is a plain `http://host:port/path` URL.
pub async fn run(args: &RawArgs) -> Option<RawResult> {
    let authority = authority_of(&args.url)?;
    let path = args
        .url
        .strip_prefix("http://")?
        .find('/')
        .map_or("/".to_owned(), |i| args.url["http://".len() + i..].to_owned());
    let pool = Arc::new(ConnPool::new(authority, Duration::from_secs(10)));
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(args.duration);
    let mut tasks = JoinSet::new();
    for _ in 0..args.connections {
        let (pool, path) = (pool.clone(), path.clone());
        tasks.spawn(async move {
            let (mut ok, mut errors) = (0u64, 0u64);
            while Instant::now() < deadline {
                match pool.send(Method::GET, &path, &[], None).await {
                    Ok(answer) if answer.status.is_success() => ok += 1,
                    _ => errors += 1,
                }
            }
            (ok, errors)
        });
    }
    let (ok, errors) = tasks
        .join_all()
        .await
        .into_iter()
        .fold((0, 0), |(ok, errors), (o, e)| (ok + o, errors + e));
    let elapsed = started.elapsed();
    Some(RawResult {
        connections: args.connections,
        elapsed_s: elapsed.as_secs_f64(),
        ok,
        errors,
        requests_per_s: per_second(ok, elapsed),
    })
}
