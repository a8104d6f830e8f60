//! The ledger page by page (`GET /admin/ledger/{sku}?after=N`), as the
//! dashboard reads it five times a second: while orders commit in whatever
//! order their transactions end, paging from each page's `next` misses no
//! row and repeats none, and ends equal to the whole ledger.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stocklock_api::Backend;

use crate::helpers::{buy_concurrently, database, spawn_app, unique_sku};

#[tokio::test]
async fn pages_miss_no_order_and_repeat_none_while_orders_commit_out_of_order() {
    let app = Arc::new(spawn_app().await);
    // No lock and 60 ms of work: sections overlap, transactions end in
    // another order than they began.
    app.use_backend(Backend::None, 60).await;
    let sku = unique_sku();
    app.reset(&sku, 1_000).await;

    let buying = {
        let (app, sku) = (app.clone(), sku.clone());
        tokio::spawn(async move { buy_concurrently(&[&*app], &sku, 300).await })
    };
    let (mut seen, mut after, mut pages) = (Vec::new(), 0, 0);
    while !buying.is_finished() {
        let page = app.ledger_page(&sku, after).await;
        assert!(
            page.next >= after,
            "the cursor went back: {} after {after}",
            page.next
        );
        seen.extend(page.orders.iter().map(|o| o.order_id));
        (after, pages) = (page.next, pages + 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(buying.await.unwrap().created, 300);
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
    assert!(pages >= 3, "the reader read while the orders came: {pages} pages");

    let last = app.ledger_page(&sku, after).await;
    assert!(last.orders.is_empty(), "{last:?}");
    // Without a lock the stock is off (lost updates): the page tells it as
    // it is.
    let audit = app.audit(&sku).await;
    assert_eq!((last.initial_stock, last.stock), (1_000, audit.stock));
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
