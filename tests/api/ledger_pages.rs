//! The ledger page by page (`GET /admin/ledger/{sku}?after=N`), as the
//! dashboard reads it five times a second: while orders commit in whatever
//! order their transactions end, paging from each page's `next` misses no
//! row and repeats none, and ends equal to the whole ledger.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use stocklock_api::{Backend, LedgerPage};

use crate::helpers::{TestApp, buy_concurrently, database, spawn_app, unique_sku};

#[tokio::test]
async fn pages_miss_no_order_and_repeat_none_while_orders_commit_out_of_order() {
    let app = Arc::new(spawn_app().await);
    // No lock and 100 ms of work: sections overlap, transactions end in
    // another order than they began, and the orders take seconds to come.
    app.use_backend(Backend::None, 100).await;
    let sku = unique_sku();
    app.reset(&sku, 1_000).await;

    let buying = {
        let (app, sku) = (app.clone(), sku.clone());
        // In waves of 8, fewer than the pool's connections: the reader gets
        // one too.
        tokio::spawn(async move {
            let mut created = 0;
            for _ in 0..38 {
                created += buy_concurrently(&[&*app], &sku, 8).await.created;
            }
            created
        })
    };
    // `pages`: those read while orders were still coming, that had some.
    let (mut seen, mut after, mut pages) = (Vec::new(), 0, 0);
    while !buying.is_finished() {
        // The orders hold the pool's connections: a page may be refused
        // (503), and is asked again, as the dashboard does.
        let Some(page) = page_unless_busy(&app, &sku, after).await else {
            continue;
        };
        assert!(
            page.next >= after,
            "the cursor went back: {} after {after}",
            page.next
        );
        seen.extend(page.orders.iter().map(|o| o.order_id));
        pages += usize::from(!page.orders.is_empty() && !buying.is_finished());
        after = page.next;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(buying.await.unwrap(), 304);
    let whole: HashSet<_> = app.orders(&sku).await.orders.iter().map(|o| o.order_id).collect();
    // The last rows come once every transaction older than theirs has
    // ended, other tests' too.
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < whole.len() && Instant::now() < deadline {
        let page = app.ledger_page(&sku, after).await;
        seen.extend(page.orders.iter().map(|o| o.order_id));
        after = page.next;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let unique: HashSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "an order came twice");
    assert_eq!(
        unique, whole,
        "the pages are not the ledger ({pages} pages while buying)"
    );
    assert!(
        pages >= 2,
        "the ledger was read in parts while it grew: {pages} pages with orders"
    );

    let last = app.ledger_page(&sku, after).await;
    assert!(last.orders.is_empty(), "{last:?}");
    // Without a lock the stock is off (lost updates): the page tells it as
    // it is.
    let audit = app.audit(&sku).await;
    assert_eq!((last.initial_stock, last.stock), (1_000, audit.stock));
}

/// A page, or `None` when the service is too busy to read one (503).
async fn page_unless_busy(app: &TestApp, sku: &str, after: i64) -> Option<LedgerPage> {
    let response = app.get(&format!("/admin/ledger/{sku}?after={after}")).await;
    match response.status() {
        StatusCode::OK => Some(response.json().await.expect("ledger page body")),
        StatusCode::SERVICE_UNAVAILABLE => None,
        status => panic!("ledger page: {status}"),
    }
}

/// The case a cursor on ids or times gets wrong, made certain: a writer
/// that began first commits last. Its row must not be skipped by a page read
/// while it was still open, however many later rows came meanwhile.
#[tokio::test]
async fn a_row_that_commits_after_later_rows_is_not_skipped() {
    let app = spawn_app().await;
    app.use_backend(Backend::Atomic, 0).await;
    let sku = unique_sku();
    app.reset(&sku, 100).await;
    let start = app.ledger_page(&sku, 0).await;

    let pool = database().await;
    let mut slow = pool.begin().await.unwrap();
    let slow_id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO orders (order_id, sku, quantity, lock_backend, cs_started_us, cs_ended_us, remaining)
         VALUES ($1, $2, 1, 'atomic', 0, 0, 99)",
    )
    .bind(slow_id)
    .bind(&sku)
    .execute(&mut *slow)
    .await
    .unwrap();
    // Later writers, committed at once.
    assert_eq!(buy_concurrently(&[&app], &sku, 3).await.created, 3);
    let during = app.ledger_page(&sku, start.next).await;
    slow.commit().await.unwrap();

    let mut seen: Vec<_> = during.orders.iter().map(|o| o.order_id).collect();
    let mut after = during.next;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 4 && Instant::now() < deadline {
        let page = app.ledger_page(&sku, after).await;
        seen.extend(page.orders.iter().map(|o| o.order_id));
        after = page.next;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        seen.contains(&slow_id),
        "the slow writer's row was skipped: {seen:?}"
    );
    assert_eq!(seen.len(), 4, "{seen:?}");
}
