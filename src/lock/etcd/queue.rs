//! Waiting in etcd's queue for a lock: the algorithm of etcd's own `Lock`
//! (and of its `concurrency.Mutex`), with one change that is ours to make.
//!
//! Each waiter creates a key `<name>/<lease id>` under its lease; its create
//! revision is its place in the queue. It holds the lock once no key under
//! `<name>/` has a smaller create revision; until then it watches the key
//! just before its own and waits for that key's deletion. First come, first
//! served, with no polling.
//!
//! The change: etcd's `Lock` watches its predecessor *from the revision it
//! read it at*. Under contention other waiters write in between, so that
//! revision is already history, and etcd serves a watch that starts in the
//! past from its background catch-up loop, which runs every 100 ms — every
//! hand-off waited 0–100 ms for it (on a 2-core machine, 20 ms of work: 16
//! orders/s and 503s, with each lock held 21 ms). A watch that starts *now*
//! is served at once; we then read the predecessor again, so a deletion
//! between the read and the watch is not missed.
//! `docs/locks.md#waiting-in-line` has the numbers.

use etcd_client::{
    Client, Compare, CompareOp, EventType, GetOptions, PutOptions, SortOrder, SortTarget, Txn, TxnOp,
    TxnOpResponse,
};
use stocklock_api::Backend;
use tokio::time::Instant;

use super::lease::LEASE_NOT_FOUND;
use crate::lock::{LockError, LockTimings};

/// Why queueing in etcd ended without the lock.
pub enum QueueError {
    TimedOut,
    /// The lease we queued under no longer exists.
    LeaseGone,
    Failed(LockError),
}

impl QueueError {
    pub fn into_lock_error(self, key: &str, timings: LockTimings) -> LockError {
        match self {
            QueueError::TimedOut => LockError::timeout(Backend::Etcd, key, timings.acquire_timeout),
            QueueError::LeaseGone => LockError::unavailable(Backend::Etcd, LEASE_NOT_FOUND),
            QueueError::Failed(err) => err,
        }
    }
}

impl From<etcd_client::Error> for QueueError {
    fn from(err: etcd_client::Error) -> Self {
        match &err {
            etcd_client::Error::GRpcStatus(status) if status.message().contains(LEASE_NOT_FOUND) => {
                QueueError::LeaseGone
            }
            _ => QueueError::Failed(LockError::unavailable(Backend::Etcd, err)),
        }
    }
}

/// Waits in the queue for `name` under `lease_id` until the lock is ours
/// (returns our key) or `deadline`. A waiter that gives up leaves its key
/// behind: the caller deletes it (or revokes its lease).
pub async fn queue(
    client: &mut Client,
    name: &str,
    lease_id: i64,
    deadline: Instant,
) -> Result<Vec<u8>, QueueError> {
    let waited = async {
        let (key, revision) = join(client, name, lease_id).await?;
        while let Some((before, created)) = predecessor(client, name, revision).await? {
            wait_for_deletion(client, before, created).await?;
        }
        Ok(key)
    };
    tokio::time::timeout_at(deadline, waited)
        .await
        .unwrap_or(Err(QueueError::TimedOut))
}

/// Creates our key, if it is not there yet, and answers with its create
/// revision: our place in the queue.
/// A waiter's key in the queue for `name`: `<name>/<lease id in hex>`, as
/// etcd's own `Lock` names it.
pub fn key_of(name: &str, lease_id: i64) -> String {
    format!("{name}/{lease_id:x}")
}

async fn join(client: &mut Client, name: &str, lease_id: i64) -> Result<(Vec<u8>, i64), QueueError> {
    let key = key_of(name, lease_id).into_bytes();
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(
            key.clone(),
            "",
            Some(PutOptions::new().with_lease(lease_id)),
        )])
        .or_else([TxnOp::get(key.clone(), None)]);
    let response = client.txn(txn).await?;
    let revision = match response.succeeded() {
        true => response.header().map(|header| header.revision()),
        false => response.op_responses().into_iter().find_map(|op| match op {
            TxnOpResponse::Get(get) => get.kvs().first().map(|kv| kv.create_revision()),
            _ => None,
        }),
    };
    let revision =
        revision.ok_or_else(|| QueueError::Failed(LockError::unavailable(Backend::Etcd, "no revision")))?;
    Ok((key, revision))
}

/// The key just before ours in the queue, if any is left, and its create
/// revision.
async fn predecessor(
    client: &mut Client,
    name: &str,
    revision: i64,
) -> Result<Option<(Vec<u8>, i64)>, QueueError> {
    let options = GetOptions::new()
        .with_prefix()
        .with_max_create_revision(revision - 1)
        .with_sort(SortTarget::Create, SortOrder::Descend)
        .with_limit(1)
        .with_keys_only();
    let found = client.get(format!("{name}/"), Some(options)).await?;
    Ok(found
        .kvs()
        .first()
        .map(|kv| (kv.key().to_vec(), kv.create_revision())))
}

/// Watches `key` from now on, then checks it is still the one created at
/// `created`, and waits until it is deleted. A key of the same name created
/// again since (an instance's next order, on the same session lease) is a
/// newer waiter, behind us: waiting for it would deadlock.
async fn wait_for_deletion(client: &mut Client, key: Vec<u8>, created: i64) -> Result<(), QueueError> {
    let mut watch = client.watch(key.clone(), None).await?;
    // The first answer says the watch exists: from here on, no deletion
    // can slip past it.
    watch.message().await?;
    let now = client.get(key, None).await?;
    if now.kvs().first().is_none_or(|kv| kv.create_revision() != created) {
        return Ok(());
    }
    while let Some(response) = watch.message().await? {
        // A watch the server cancelled (a compaction, a lost leader) says
        // nothing more: look at the queue again.
        let deleted = response
            .events()
            .iter()
            .any(|event| event.event_type() == EventType::Delete);
        if deleted || response.canceled() {
            return Ok(());
        }
    }
    Err(QueueError::Failed(LockError::unavailable(
        Backend::Etcd,
        "the watch ended",
    )))
}
