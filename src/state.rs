//! The state every handler shares, passed as `State<Arc<AppState>>`.
//! No globals: the tests start several independent instances in one process.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::access::Access;
use crate::faults::FaultInjector;
use crate::metrics::Metrics;
use crate::store::{Batches, KnownProducts};
use crate::switch::LockSwitch;

#[derive(Debug)]
pub struct AppState {
    /// This instance's name (`INSTANCE_NAME`), as the ledger records it.
    pub instance: String,
    /// The ledger: products and orders.
    pub pool: PgPool,
    /// `/health`'s own connection to the ledger (see `store::connect_probe`).
    pub probe: PgPool,
    /// Orders admitted at once; past it, 503 `overloaded` at once.
    pub admission: Arc<Semaphore>,
    /// Every lock backend, and which one is active.
    pub locks: LockSwitch,
    /// Orders run as tracked tasks (see `order/mod.rs`); shutdown waits for them.
    pub tasks: TaskTracker,
    /// Faults injected for teaching (off unless `PUT /admin/faults`).
    pub faults: FaultInjector,
    /// `batch`'s queues, per SKU (`store/batch.rs`).
    pub batches: Batches,
    /// The products known to exist: unknown SKUs are refused before a lock.
    pub products: KnownProducts,
    /// Who may call: the Host allow-list and the admin token.
    pub access: Access,
    /// What `GET /metrics` reports.
    pub metrics: Arc<Metrics>,
}
