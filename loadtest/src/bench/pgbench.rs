//! PostgreSQL's own rate for the SQL an order runs, measured by pgbench
//! under the same contention: the yardstick a backend's orders/s is shared
//! against.
//!
//! The scripts are the service's statements (`src/store/deduction.rs`) with
//! pgbench's variables, on a product of their own that never sells out:
//! `local` is measured against a row lock held from the read to the commit,
//! the other locks against the advisory lock `postgres` takes, `atomic` and
//! `batch` against the one conditional UPDATE. A script does its work with
//! `\sleep` where an order works. The ledger rows it writes are deleted
//! with its product.

use std::path::Path;
use std::process::Stdio;

use anyhow::{Context, bail};
use sqlx::PgPool;
use stocklock_api::Backend;

/// The SKU pgbench sells from.
const SKU: &str = "bench-pgbench";

/// The locking a script does around the read and the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    /// `SELECT … FOR UPDATE`, then the write: what `local` stands for.
    RowLock,
    /// `pg_advisory_xact_lock`, then the read and the write: what every
    /// lock outside the database has to beat (`postgres` *is* it).
    Advisory,
    /// One conditional `UPDATE … WHERE stock >= 1` with its row.
    Atomic,
}

impl Script {
    pub const ALL: [Script; 3] = [Script::RowLock, Script::Advisory, Script::Atomic];

    /// The script `backend` is compared with; `None` for `none`, which
    /// locks nothing and so has nothing to be compared with.
    pub fn for_backend(backend: Backend) -> Option<Script> {
        match backend {
            Backend::None => None,
            Backend::Local => Some(Script::RowLock),
            Backend::Atomic | Backend::Batch => Some(Script::Atomic),
            _ => Some(Script::Advisory),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Script::RowLock => "row lock",
            Script::Advisory => "advisory lock",
            Script::Atomic => "atomic update",
        }
    }

    /// The script's text, working `work_ms` inside the lock (or, for the
    /// atomic update, before it, as `atomic` does).
    pub fn text(self, work_ms: u64) -> String {
        let work = if work_ms > 0 {
            format!("\\sleep {work_ms} ms\n")
        } else {
            String::new()
        };
        let read = format!("SELECT stock, {NOW_US} FROM products WHERE sku = '{SKU}'");
        match self {
            Script::RowLock => format!("BEGIN;\n{read} FOR UPDATE;\n{work}{}COMMIT;\n", write("")),
            Script::Advisory => format!("BEGIN;\n{ADVISORY};\n{read};\n{work}{}COMMIT;\n", write("")),
            Script::Atomic => format!("{work}{}", write(" AND stock >= 1")),
        }
    }
}

/// The instant, in microseconds by PostgreSQL's clock, as the service's
/// statements record it.
const NOW_US: &str = "(extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT";

/// The lock `postgres` takes, on the key it would take it on.
const ADVISORY: &str = "SELECT pg_advisory_xact_lock(hashtextextended('stock:bench-pgbench', 0))";

/// The write and its ledger row in one statement, as the service's.
fn write(condition: &str) -> String {
    format!(
        "WITH written AS (UPDATE products \
         SET stock = stock - 1, fence_epoch = NULL, fence = NULL, fence_holder = NULL \
         WHERE sku = '{SKU}'{condition} RETURNING stock, {NOW_US} AS at_us) \
         INSERT INTO orders (order_id, sku, quantity, lock_backend, cs_started_us, cs_ended_us, remaining) \
         SELECT gen_random_uuid(), '{SKU}', 1, 'pgbench', at_us, at_us, stock FROM written;\n"
    )
}

/// Gives pgbench's product stock enough for any run, and no orders.
pub async fn prepare(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO products (sku, initial_stock, stock) VALUES ($1, 1000000000, 1000000000)
         ON CONFLICT (sku) DO UPDATE SET initial_stock = 1000000000, stock = 1000000000",
    )
    .bind(SKU)
    .execute(pool)
    .await?;
    sqlx::query("DELETE FROM orders WHERE sku = $1")
        .bind(SKU)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes pgbench's product, and with it its orders.
pub async fn clean_up(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM products WHERE sku = $1")
        .bind(SKU)
        .execute(pool)
        .await?;
    Ok(())
}

/// Runs `script` with `clients` for `seconds`; its transactions per second.
pub async fn rate(
    pgbench: &Path,
    database_url: &str,
    (script, work_ms): (Script, u64),
    clients: usize,
    seconds: f64,
) -> anyhow::Result<f64> {
    let file = std::env::temp_dir().join(format!(
        "stocklock-pgbench-{}-{:?}-{work_ms}.sql",
        std::process::id(),
        script
    ));
    std::fs::write(&file, script.text(work_ms)).with_context(|| format!("writing {}", file.display()))?;
    let output = tokio::process::Command::new(pgbench)
        .args(["--no-vacuum", "--jobs", "2", "--client", &clients.to_string()])
        .args(["--time", &format!("{}", seconds.ceil() as u64), "--file"])
        .arg(&file)
        .arg(database_url)
        .stdin(Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {}", pgbench.display()))?;
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    tps(&stdout).with_context(|| format!("no tps in pgbench's output: {stdout}"))
}

/// `tps = 1234.5 (without initial connection time)`.
fn tps(output: &str) -> Option<f64> {
    output
        .lines()
        .find_map(|line| line.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_s_rate_is_read_from_its_summary() {
        let output = "number of failed transactions: 0 (0.000%)\nlatency average = 9.5 ms\n\
                      initial connection time = 12.3 ms\ntps = 1683.412 (without initial connection time)\n";
        assert_eq!(tps(output), Some(1683.412));
        assert_eq!(tps("nothing"), None);
    }

    #[test]
    fn every_lock_is_compared_with_the_locking_it_stands_for() {
        assert_eq!(Script::for_backend(Backend::Local), Some(Script::RowLock));
        assert_eq!(Script::for_backend(Backend::Etcd), Some(Script::Advisory));
        assert_eq!(Script::for_backend(Backend::Batch), Some(Script::Atomic));
        assert!(Script::RowLock.text(20).contains("FOR UPDATE;\n\\sleep 20 ms\n"));
        assert!(Script::Atomic.text(0).contains("AND stock >= 1"));
    }
}
