//! A held etcd lock: our key, its fencing token, and the lease it lives on.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use etcd_client::{Client, Compare, CompareOp, KeyValue, Txn, TxnOp, TxnOpResponse};
use stocklock_api::Backend;

use super::lease::LEASE_NOT_FOUND;
use super::session::Session;
use crate::domain::Fence;
use crate::lock::local::KeyedGuard;
use crate::lock::renew::Watchdog;
use crate::lock::{HeldLock, LockError, within};

/// The lease our key lives on, which decides how it is released.
pub enum Lease {
    /// `renewal` on: the instance's session. Released by deleting our key;
    /// the instance's turn for this SKU is ours until then.
    Session {
        session: Arc<Session>,
        _turn: KeyedGuard,
    },
    /// `renewal` off: a lease of this lock's own. Released by revoking it;
    /// the instance's turn for this SKU is ours until then.
    Own { id: i64, _turn: KeyedGuard },
}

impl Lease {
    fn id(&self) -> i64 {
        match self {
            Lease::Session { session, .. } => session.lease_id,
            Lease::Own { id, .. } => *id,
        }
    }
}

pub struct EtcdHeld {
    pub client: Client,
    /// The ownership key etcd created for us (`name/<lease-id>`).
    pub key: Vec<u8>,
    /// The revision that created it — the fencing token: revisions increase
    /// with every write to the cluster, so a later holder's is larger — in
    /// the epoch of this cluster's data (a cluster started on a new data
    /// directory starts its revisions again, and gets a new epoch).
    pub fence: Fence,
    pub lease: Lease,
    /// The bound of each call made while held, from the request's settings.
    pub server_timeout: Duration,
}

impl EtcdHeld {
    fn lost(&self) -> LockError {
        LockError::lost(Backend::Etcd, &String::from_utf8_lossy(&self.key))
    }

    /// Deletes our key if it is still the one we created: a compare on its
    /// create revision, so a release that comes late never deletes a key
    /// that a newer holder created under the same name.
    async fn delete_if_ours(&self) -> Result<(), LockError> {
        let txn = Txn::new()
            .when([Compare::create_revision(
                self.key.clone(),
                CompareOp::Equal,
                self.fence.token,
            )])
            .and_then([TxnOp::delete(self.key.clone(), None)]);
        let mut client = self.client.clone();
        within(Backend::Etcd, self.server_timeout, client.txn(txn)).await?;
        Ok(())
    }

    async fn revoke(&self, lease_id: i64) -> Result<(), LockError> {
        let mut client = self.client.clone();
        let revoked = client.lease_revoke(lease_id);
        match tokio::time::timeout(self.server_timeout, revoked).await {
            Ok(Ok(_)) => Ok(()),
            // The lease already expired (the holder outlived its TTL): the
            // key went with it, so there is nothing left to release.
            Ok(Err(etcd_client::Error::GRpcStatus(status))) if status.message().contains(LEASE_NOT_FOUND) => {
                Ok(())
            }
            Ok(Err(err)) => Err(LockError::unavailable(Backend::Etcd, err)),
            Err(_) => Err(LockError::unavailable(Backend::Etcd, "no answer in time")),
        }
    }
}

#[async_trait]
impl HeldLock for EtcdHeld {
    /// Our key still exists, under our lease, created by our acquisition
    /// (its create revision is our token): the lock is still ours. Exact,
    /// unlike the lease's TTL, which etcd reports in whole seconds.
    async fn verify(&self) -> Result<(), LockError> {
        if self.watchdog().is_some_and(Watchdog::is_lost) {
            return Err(self.lost());
        }
        let mut client = self.client.clone();
        let found = within(
            Backend::Etcd,
            self.server_timeout,
            client.get(self.key.clone(), None),
        )
        .await?;
        let lease_id = self.lease.id();
        let ours = |kv: &KeyValue| kv.lease() == lease_id && kv.create_revision() == self.fence.token;
        if found.kvs().iter().any(ours) {
            Ok(())
        } else {
            Err(self.lost())
        }
    }

    fn token(&self) -> Option<Fence> {
        Some(self.fence.clone())
    }

    fn watchdog(&self) -> Option<&Watchdog> {
        match &self.lease {
            Lease::Session { session, .. } => Some(&session.watchdog),
            Lease::Own { .. } => None,
        }
    }

    async fn release(self: Box<Self>) -> Result<(), LockError> {
        match &self.lease {
            Lease::Session { session, .. } => {
                let deleted = self.delete_if_ours().await;
                if deleted.is_err() {
                    // Left in place, the key would live as long as the session.
                    session.abandon();
                }
                deleted
            }
            Lease::Own { id, .. } => self.revoke(*id).await,
        }
    }
}

/// Reads our key back right after `Lock` answered: its create revision is
/// the fencing token, and its absence — or another lease on it — means our
/// lease expired while we queued (etcd 3.4's `Lock` can still answer then:
/// the bug Jepsen reported).
pub async fn fence_of(
    client: &mut Client,
    lock_key: &[u8],
    lease_id: i64,
    name: &str,
) -> Result<Fence, LockError> {
    let (ours, epoch) = read_back(client, lock_key)
        .await
        .map_err(|err| LockError::unavailable(Backend::Etcd, err))?;
    let token = ours
        .filter(|kv| kv.lease() == lease_id)
        .map(|kv| kv.create_revision())
        .ok_or_else(|| LockError::lost(Backend::Etcd, name))?;
    Ok(Fence {
        epoch: format!("etcd/{epoch}"),
        token,
        holder: format!("{lease_id:x}"),
    })
}

/// Where the epoch of this cluster's revisions is kept (see `docs/fencing.md#epochs`).
const EPOCH_KEY: &str = "stocklock/fence-epoch";

/// Our lock key as etcd holds it now, and the epoch of the revisions, in one
/// transaction: the epoch key is created with a random id if it is missing
/// — as on a cluster started on a new data directory, whose revisions start
/// again from 1.
async fn read_back(
    client: &mut Client,
    lock_key: &[u8],
) -> Result<(Option<KeyValue>, String), etcd_client::Error> {
    let fresh = uuid::Uuid::new_v4().simple().to_string();
    let reads = || [TxnOp::get(lock_key, None), TxnOp::get(EPOCH_KEY, None)];
    let mut create = vec![TxnOp::put(EPOCH_KEY, fresh, None)];
    create.extend(reads());
    let txn = Txn::new()
        .when([Compare::create_revision(EPOCH_KEY, CompareOp::Equal, 0)])
        .and_then(create)
        .or_else(reads());
    let mut gets = client
        .txn(txn)
        .await?
        .op_responses()
        .into_iter()
        .filter_map(|op| match op {
            TxnOpResponse::Get(get) => Some(get),
            _ => None,
        });
    let ours = gets.next().and_then(|get| get.kvs().first().cloned());
    let epoch = gets
        .next()
        .and_then(|get| {
            get.kvs()
                .first()
                .map(|kv| String::from_utf8_lossy(kv.value()).into_owned())
        })
        .unwrap_or_default();
    Ok((ours, epoch))
}
