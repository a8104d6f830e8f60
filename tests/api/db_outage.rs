//! PostgreSQL restarted under load: no order is half-recorded, and the
//! service recovers by itself.
//!
//! PostgreSQL is not a lock server that may be lost: it holds the stock and
//! the ledger, and an order writes both in one transaction. A fast shutdown
//! (`pg_ctl stop -m fast`) rolls back every open transaction and closes
//! every connection — so each order must end as a 201 whose row is in the
//! ledger, a 409 or a clear 503 that changed nothing, or a 503
//! `commit_outcome_unknown` (the one answer that may have been recorded);
//! never a 500, and never stock taken without its order or the reverse.
//! Each test runs a PostgreSQL of its own, so the shared one is not touched.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use stocklock_api::{Backend, ErrorBody, ErrorCode, LockSettingsUpdate, Order};
use uuid::Uuid;

use crate::helpers::{TestApp, port_for_child, spawn_app_with, unique_sku};
use crate::servers::OwnPostgres;

const BUYERS: usize = 8;
/// Orders per buyer at most: the load is bounded by count as well as time.
const ORDERS_PER_BUYER: usize = 1_000;
const INITIAL_STOCK: i64 = 100_000;
/// How long PostgreSQL stays down.
const DOWN_FOR: Duration = Duration::from_secs(2);
/// How long the service may take to sell again once PostgreSQL is back.
const RECOVERY_BOUND: Duration = Duration::from_secs(15);
/// The buyers stop by then whatever happens, so a hung service fails the
/// test instead of hanging it.
const LOAD_DEADLINE: Duration = Duration::from_secs(40);

/// How one order ended, as its client saw it.
#[derive(Debug)]
enum Answer {
    Created(Uuid),
    OutOfStock,
    /// A 503, with its code.
    Unavailable(ErrorCode),
    /// No response at all (the client's timeout, a reset connection).
    NoAnswer(String),
    /// Anything else — a 500, say — with its error code: always a failure.
    Unexpected(StatusCode, String),
}

/// What every buyer shares: when to stop, what phase the outage is in,
/// and how many orders were created (in all, and since the restart).
#[derive(Default)]
struct Progress {
    stop: AtomicBool,
    restarted: AtomicBool,
    created: AtomicI64,
    created_after_restart: AtomicI64,
}

#[tokio::test]
async fn a_postgres_restarted_mid_load_leaves_no_partial_order_under_atomic_and_the_service_recovers() {
    restart_mid_load(Backend::Atomic).await;
}

#[tokio::test]
async fn a_postgres_restarted_mid_load_leaves_no_partial_order_under_batch_and_the_service_recovers() {
    restart_mid_load(Backend::Batch).await;
}

#[tokio::test]
async fn a_postgres_restarted_mid_load_leaves_no_partial_order_under_postgres_and_the_service_recovers() {
    restart_mid_load(Backend::Postgres).await;
}

async fn restart_mid_load(backend: Backend) {
    let postgres = Arc::new(OwnPostgres::start(port_for_child()));
    let app = spawn_app_with(|config| config.database_url = postgres.url()).await;
    app.set_lock(LockSettingsUpdate {
        backend: Some(backend),
        // Keeps transactions open long enough for the shutdown to land
        // inside some of them.
        critical_section_ms: Some(10),
        // Bounds the wait for a pooled connection too: shorter than the
        // outage, so orders meanwhile get their 503 instead of waiting it
        // out (the pool's own limit, 5 s, is longer than `DOWN_FOR`).
        acquire_timeout_ms: Some(1_000),
        ..Default::default()
    })
    .await;
    let sku = unique_sku();
    app.reset(&sku, INITIAL_STOCK).await;

    let progress = Arc::new(Progress::default());
    let load = buy(&app, &sku, progress.clone());
    let outage = restart_under(postgres.clone(), progress.clone());
    let (answers, recovered_in) = tokio::join!(load, outage);

    let tally = tally(&answers, backend);
    println!("{backend:?}: {tally:?}, sold again {recovered_in:?} after the restart");
    let drained = app.drain().await;
    assert_eq!(drained.status(), StatusCode::OK, "orders still in flight");
    // The worst failure first: a ledger that lost or half-recorded orders.
    check_ledger(&app, &postgres, &sku, &answers, tally.in_doubt).await;
    assert!(
        tally.refused.is_empty(),
        "{backend:?}: answers a client cannot act on: {:?}",
        tally.refused
    );
    assert!(
        tally.unavailable > 0,
        "no 503 while PostgreSQL was down: {tally:?}"
    );
    let recovered_in = recovered_in.expect("no sale within RECOVERY_BOUND of the restart");
    assert!(recovered_in < RECOVERY_BOUND);
}

/// The buyers: each orders one unit at a time until told to stop, its
/// count is used up or the deadline passes; returns every answer.
async fn buy(app: &TestApp, sku: &str, progress: Arc<Progress>) -> Vec<Answer> {
    let deadline = Instant::now() + LOAD_DEADLINE;
    let mut buyers = tokio::task::JoinSet::new();
    for _ in 0..BUYERS {
        let (client, url, sku) = (app.client.clone(), app.url("/orders"), sku.to_owned());
        let progress = progress.clone();
        buyers.spawn(async move {
            let mut answers = Vec::new();
            while answers.len() < ORDERS_PER_BUYER
                && !progress.stop.load(Ordering::SeqCst)
                && Instant::now() < deadline
            {
                let after_restart = progress.restarted.load(Ordering::SeqCst);
                let answer = order(&client, &url, &sku).await;
                if let Answer::Created(_) = answer {
                    progress.created.fetch_add(1, Ordering::SeqCst);
                    if after_restart {
                        progress.created_after_restart.fetch_add(1, Ordering::SeqCst);
                    }
                } else {
                    // A client backing off, so an outage does not use up
                    // the buyer's count in a spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                answers.push(answer);
            }
            answers
        });
    }
    buyers.join_all().await.into_iter().flatten().collect()
}

async fn order(client: &reqwest::Client, url: &str, sku: &str) -> Answer {
    let sent = client
        .post(url)
        .json(&json!({ "sku": sku, "quantity": 1 }))
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(err) => return Answer::NoAnswer(err.to_string()),
    };
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status == StatusCode::CREATED {
        let order: Order = serde_json::from_str(&body).expect("an order body");
        return Answer::Created(order.order_id);
    }
    let code = serde_json::from_str::<ErrorBody>(&body).ok().map(|e| e.error);
    match (status, code) {
        (StatusCode::CONFLICT, Some(ErrorCode::OutOfStock)) => Answer::OutOfStock,
        (StatusCode::SERVICE_UNAVAILABLE, Some(code)) => Answer::Unavailable(code),
        // The code says enough; the body only when there is none.
        _ => Answer::Unexpected(status, code.map_or(body, |code| format!("{code:?}"))),
    }
}

/// Waits for sales, stops PostgreSQL (fast), starts it again `DOWN_FOR`
/// later, and waits for sales again; returns how long after the restart
/// the first sale came (`None`: not within `RECOVERY_BOUND`). Stops the
/// buyers when done.
async fn restart_under(postgres: Arc<OwnPostgres>, progress: Arc<Progress>) -> Option<Duration> {
    let progress = &*progress;
    let sold = |at_least| move || progress.created.load(Ordering::SeqCst) >= at_least;
    let sold_again = |at_least| move || progress.created_after_restart.load(Ordering::SeqCst) >= at_least;
    let selling = wait_until(sold(50), Duration::from_secs(10)).await;
    assert!(selling, "no sales before the outage");
    let stopping = postgres.clone();
    tokio::task::spawn_blocking(move || stopping.stop())
        .await
        .expect("pg_ctl stop");
    tokio::time::sleep(DOWN_FOR).await;
    // `pg_ctl` blocks until it is done: off the runtime's threads.
    let starting = postgres.clone();
    tokio::task::spawn_blocking(move || starting.start_again())
        .await
        .expect("pg_ctl start");
    let restarted = Instant::now();
    progress.restarted.store(true, Ordering::SeqCst);
    let recovered = wait_until(sold_again(1), RECOVERY_BOUND).await;
    let recovered_in = recovered.then(|| restarted.elapsed());
    // A few more sales on the recovered service, then stop.
    wait_until(sold_again(20), Duration::from_secs(2)).await;
    progress.stop.store(true, Ordering::SeqCst);
    recovered_in
}

/// Polls `done` every 10 ms for at most `limit`; whether it came true.
async fn wait_until(done: impl Fn() -> bool, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

/// The answers, counted.
#[derive(Debug, Default)]
struct Tally {
    created: usize,
    out_of_stock: usize,
    unavailable: usize,
    /// 503 `commit_outcome_unknown` and no answer at all: the only ones
    /// whose order may be in the ledger without the client knowing.
    in_doubt: usize,
    /// Answers a client cannot act on (a 500, an unexpected 503 code),
    /// described: there must be none.
    refused: Vec<String>,
}

/// Sorts the answers. Every answer must be one a client can act on: 201,
/// 409 `out_of_stock`, or a 503 whose code this backend can give during a
/// database outage.
fn tally(answers: &[Answer], backend: Backend) -> Tally {
    let mut allowed = vec![ErrorCode::DatabaseUnavailable, ErrorCode::CommitOutcomeUnknown];
    if backend == Backend::Postgres {
        // Its lock lives in PostgreSQL: a wait for it can time out.
        allowed.push(ErrorCode::LockUnavailable);
    }
    let mut tally = Tally::default();
    for answer in answers {
        match answer {
            Answer::Created(_) => tally.created += 1,
            Answer::OutOfStock => tally.out_of_stock += 1,
            Answer::Unavailable(code) if allowed.contains(code) => {
                tally.unavailable += 1;
                tally.in_doubt += usize::from(*code == ErrorCode::CommitOutcomeUnknown);
            }
            Answer::NoAnswer(reason) => {
                println!("no answer: {reason}");
                tally.in_doubt += 1;
            }
            Answer::Unavailable(code) => tally.refused.push(format!("503 {code:?}")),
            Answer::Unexpected(status, body) => tally.refused.push(format!("{} {body}", status.as_u16())),
        }
    }
    tally
}

/// The ledger: stock and orders agree (the audit computes both from the
/// rows: no stock taken without its order row, nor the reverse), every 201
/// is in it, and every order in it that no 201 announced belongs to an
/// answer in doubt (`in_doubt` of them). The order ids are read from
/// PostgreSQL itself.
async fn check_ledger(app: &TestApp, postgres: &OwnPostgres, sku: &str, answers: &[Answer], in_doubt: usize) {
    let audit = app.audit(sku).await;
    assert_eq!(audit.initial_stock, INITIAL_STOCK);
    assert!(
        audit.consistent,
        "a partial order: stock and orders disagree: {audit:?}"
    );
    assert_eq!(audit.oversold, 0, "{audit:?}");

    let db = sqlx::PgPool::connect(&postgres.url())
        .await
        .expect("own PostgreSQL");
    let recorded: HashSet<Uuid> = sqlx::query_scalar("SELECT order_id FROM orders WHERE sku = $1")
        .bind(sku)
        .fetch_all(&db)
        .await
        .expect("the orders")
        .into_iter()
        .collect();
    db.close().await;
    assert_eq!(recorded.len() as i64, audit.orders, "{audit:?}");
    let acknowledged: HashSet<Uuid> = answers
        .iter()
        .filter_map(|answer| match answer {
            Answer::Created(id) => Some(*id),
            _ => None,
        })
        .collect();
    let lost: Vec<_> = acknowledged.difference(&recorded).collect();
    assert!(lost.is_empty(), "201s whose order is not in the ledger: {lost:?}");
    let unannounced = recorded.difference(&acknowledged).count();
    assert!(
        unannounced <= in_doubt,
        "{unannounced} orders recorded without a 201, but only {in_doubt} answers in doubt"
    );
}
