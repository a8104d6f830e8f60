//! The products and the ledger: resetting a product, reading it, and the
//! audit that reads the verdict straight out of the orders.

use sqlx::PgPool;
use stocklock_api::{Audit, LedgerPage, Product, RecordedOrder};
use uuid::Uuid;

use crate::domain::Sku;

/// Creates the product or resets it: stock = initial stock = `stock`, its
/// orders deleted and its fence cleared (a holder that claimed before the
/// reset must not write after it), in one transaction.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn reset_product(pool: &PgPool, sku: &Sku, stock: i64) -> Result<Product, sqlx::Error> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO products (sku, initial_stock, stock) VALUES ($1, $2, $2)
         ON CONFLICT (sku) DO UPDATE
             SET initial_stock = $2, stock = $2, fence_epoch = NULL, fence = NULL, fence_holder = NULL",
    )
    .bind(sku.as_str())
    .bind(stock)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "WITH refusals AS (DELETE FROM lock_refusals WHERE sku = $1)
         DELETE FROM orders WHERE sku = $1",
    )
    .bind(sku.as_str())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Product {
        sku: sku.to_string(),
        stock,
    })
}

#[tracing::instrument(level = "debug", skip(pool))]
pub async fn product(pool: &PgPool, sku: &Sku) -> Result<Option<Product>, sqlx::Error> {
    let stock = sqlx::query_scalar::<_, i64>("SELECT stock FROM products WHERE sku = $1")
        .bind(sku.as_str())
        .fetch_optional(pool)
        .await?;
    Ok(stock.map(|stock| Product {
        sku: sku.to_string(),
        stock,
    }))
}

/// The ledger's verdict, computed by PostgreSQL from the rows themselves.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn audit(pool: &PgPool, sku: &Sku) -> Result<Option<Audit>, sqlx::Error> {
    let row = sqlx::query_as::<_, (i64, i64, i64, i64, i64, bool, i64, i64, i64)>(
        "WITH ledger AS (
             SELECT p.initial_stock, p.stock,
                    COALESCE(SUM(o.quantity), 0)::BIGINT AS sold,
                    COUNT(o.order_id) AS orders
             FROM products p LEFT JOIN orders o ON o.sku = p.sku
             WHERE p.sku = $1
             GROUP BY p.sku
         ),
         -- Pairs of orders whose critical sections overlapped (each pair
         -- once: b started while a was still inside). A section ends at the
         -- write, not the commit a moment later: a read in that moment sees
         -- the old stock without being counted, so this can undercount,
         -- never overcount.
         -- LATERAL: for each order, an index range scan of the orders that
         -- started inside its section (orders_sku_cs_idx), so the work
         -- grows with the orders and the pairs found. A plain join of one
         -- SKU's orders with themselves may be planned as a hash join on
         -- the SKU — every row against every row: 16,000 orders took 20 s.
         overlapping AS (
             SELECT COUNT(*) AS pairs,
                    COUNT(*) FILTER (WHERE a.lock_backend <> b.lock_backend) AS across
             FROM orders a CROSS JOIN LATERAL (
                 SELECT b.lock_backend FROM orders b
                 WHERE b.sku = a.sku AND b.order_id <> a.order_id
                   AND b.cs_started_us >= a.cs_started_us AND b.cs_started_us < a.cs_ended_us
                   AND (b.cs_started_us > a.cs_started_us OR b.order_id > a.order_id)
             ) b
             WHERE a.sku = $1
         ),
         -- The most critical sections open at one instant: a sweep over
         -- every start (+1) and end (-1) in time order, an end first when
         -- one section ends as another starts (they touch, they do not
         -- overlap: the same rule as above). One order's worth of work per
         -- order, unlike the pairs, which can grow as their square.
         holders AS (
             SELECT COALESCE(MAX(open), 0)::BIGINT AS most
             FROM (
                 SELECT SUM(step) OVER (ORDER BY at, step) AS open
                 FROM orders o
                 CROSS JOIN LATERAL (VALUES (o.cs_started_us, 1), (o.cs_ended_us, -1)) AS e (at, step)
                 WHERE o.sku = $1 AND o.cs_started_us < o.cs_ended_us
             ) sweep
         )
         SELECT initial_stock, stock, sold, orders,
                GREATEST(sold - initial_stock, 0) AS oversold,
                stock = initial_stock - sold AS consistent,
                (SELECT pairs FROM overlapping) AS overlapping_holds,
                (SELECT across FROM overlapping) AS overlapping_across_backends,
                (SELECT most FROM holders) AS most_holders_at_once
         FROM ledger",
    )
    .bind(sku.as_str())
    .fetch_optional(pool)
    .await?;
    Ok(row.map(
        |(initial_stock, stock, sold, orders, oversold, consistent, overlapping_holds, across, most)| Audit {
            sku: sku.to_string(),
            initial_stock,
            stock,
            sold,
            orders,
            oversold,
            consistent,
            overlapping_holds,
            overlapping_across_backends: across,
            most_holders_at_once: most,
        },
    ))
}

/// Every order of the SKU, in the order their sections began (for
/// comparing one by one with what clients were told, and for the
/// timeline); `None` if there is no such product.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn orders(pool: &PgPool, sku: &Sku) -> Result<Option<Vec<RecordedOrder>>, sqlx::Error> {
    if product(pool, sku).await?.is_none() {
        return Ok(None);
    }
    let rows = sqlx::query_as::<_, OrderRow>(
        "SELECT order_id, quantity, instance, lock_backend, fence_token, cs_started_us, cs_ended_us
         FROM orders WHERE sku = $1 ORDER BY cs_started_us, created_at, order_id",
    )
    .bind(sku.as_str())
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(OrderRow::into_api)
        .collect::<Result<_, _>>()
        .map(Some)
}

/// The orders written by transactions in `[after, next)`, where `next` is
/// the oldest transaction still running when the statement began: every
/// transaction before it has ended, so its rows are here or never will be.
/// One statement, so the horizon and the rows come from one snapshot.
/// `None` if there is no such product.
#[tracing::instrument(level = "debug", skip(pool))]
pub async fn ledger_page(pool: &PgPool, sku: &Sku, after: i64) -> Result<Option<LedgerPage>, sqlx::Error> {
    let rows = sqlx::query_as::<_, PageRow>(
        "WITH horizon AS (SELECT txid_snapshot_xmin(txid_current_snapshot()) AS next)
         SELECT p.initial_stock, p.stock, h.next,
                o.order_id, o.quantity, o.instance, o.lock_backend, o.fence_token,
                o.cs_started_us, o.cs_ended_us
         FROM products p CROSS JOIN horizon h
         LEFT JOIN orders o ON o.sku = p.sku AND o.txid >= $2 AND o.txid < h.next
         WHERE p.sku = $1
         ORDER BY o.cs_started_us, o.created_at, o.order_id",
    )
    .bind(sku.as_str())
    .bind(after)
    .fetch_all(pool)
    .await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let (initial_stock, stock, next) = (first.initial_stock, first.stock, first.next);
    let orders = rows
        .into_iter()
        .filter_map(PageRow::order)
        .map(OrderRow::into_api)
        .collect::<Result<_, _>>()?;
    Ok(Some(LedgerPage {
        sku: sku.to_string(),
        initial_stock,
        stock,
        orders,
        // Never back: a cursor given from the future stays where it was.
        next: next.max(after),
    }))
}

/// A product and one of its new orders, if it has any (a left join).
#[derive(sqlx::FromRow)]
struct PageRow {
    initial_stock: i64,
    stock: i64,
    next: i64,
    order_id: Option<Uuid>,
    quantity: Option<i64>,
    instance: Option<String>,
    lock_backend: Option<String>,
    fence_token: Option<i64>,
    cs_started_us: Option<i64>,
    cs_ended_us: Option<i64>,
}

impl PageRow {
    fn order(self) -> Option<OrderRow> {
        Some(OrderRow {
            order_id: self.order_id?,
            quantity: self.quantity?,
            instance: self.instance,
            lock_backend: self.lock_backend?,
            fence_token: self.fence_token,
            cs_started_us: self.cs_started_us,
            cs_ended_us: self.cs_ended_us,
        })
    }
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    quantity: i64,
    instance: Option<String>,
    lock_backend: String,
    fence_token: Option<i64>,
    cs_started_us: Option<i64>,
    cs_ended_us: Option<i64>,
}

impl OrderRow {
    fn into_api(self) -> Result<RecordedOrder, sqlx::Error> {
        Ok(RecordedOrder {
            order_id: self.order_id,
            quantity: self.quantity,
            instance: self.instance,
            backend: super::backend_named(&self.lock_backend)?,
            fence_token: self.fence_token,
            cs_started_us: self.cs_started_us,
            cs_ended_us: self.cs_ended_us,
        })
    }
}
