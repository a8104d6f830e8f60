//! The products this instance knows exist, so that an order for an unknown
//! SKU is refused (404) before any lock is taken: otherwise every made-up
//! SKU would leave state behind — a mutex in `local` and `etcd`, fence keys
//! in Redis — and a stream of them would grow an instance without bound.
//!
//! Only existence is cached, never stock: a product, once created, is never
//! deleted (a reset only sets its stock), so a SKU seen once is known for
//! good, and the set is bounded by the products an admin created. A SKU
//! not in it costs one `SELECT` — the price of refusing it statelessly.

use std::collections::HashSet;
use std::sync::Mutex;

use sqlx::PgPool;

use super::products::product;
use crate::domain::Sku;

#[derive(Debug, Default)]
pub struct KnownProducts {
    /// A std mutex: held for a lookup or an insert, never across an `.await`.
    known: Mutex<HashSet<Sku>>,
}

impl KnownProducts {
    /// Whether `sku` is a product.
    pub async fn exists(&self, db: &PgPool, sku: &Sku) -> Result<bool, sqlx::Error> {
        if self.lock().contains(sku) {
            return Ok(true);
        }
        if product(db, sku).await?.is_none() {
            return Ok(false);
        }
        self.lock().insert(sku.clone());
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<Sku>> {
        self.known.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
