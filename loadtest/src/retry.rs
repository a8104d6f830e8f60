//! Sending an order again when an attempt got no HTTP answer at all — and
//! only then.
//!
//! A connect error, a request timeout, a reset connection: the client
//! cannot tell whether the order was placed. Every attempt carries the
//! order's one `Idempotency-Key` (`order.rs`), so a retry cannot deduct
//! twice: the service answers it with the first order if that one was
//! recorded. Any HTTP answer ends the order, whatever it says — a 409 or a
//! 503 is the service's word and what the run measures; retrying it away
//! would hide the lock's refusals.
//!
//! Retries are few ([`RetryPolicy::attempts`] in all), none starts after
//! the phase's deadline, and each waits a short backoff with jitter first,
//! so a crowd of buyers whose connections broke at once does not come back
//! in one burst.
//!
//! Why the books stay exact: with one key, an order is recorded at most
//! once however many attempts it took. So an order counts once — one 201
//! at most, replayed or not — and an order left in doubt may explain one
//! recorded order, no more (`docs/loadtest.md#retrying-an-order`).

use std::time::Duration;

use tokio::time::Instant;

use crate::client::Target;
use crate::order::{Answer, OrderRequest};
use crate::stats::{Ack, Outcome, Retries};

/// How often, and how soon, an unanswered order is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included: 1 never retries.
    pub attempts: u32,
    /// The pause before the first retry (at most; jitter takes up to half
    /// off); each later one doubles it.
    pub backoff: Duration,
}

impl RetryPolicy {
    /// Up to `attempts` attempts in all, the retries about 100 ms, 200 ms,
    /// … apart: long enough for a reset connection to be made anew, short
    /// against a phase.
    pub fn new(attempts: u32) -> Self {
        RetryPolicy {
            attempts,
            backoff: Duration::from_millis(100),
        }
    }

    /// The pause before sending an order again after its attempt number
    /// `attempt` (1 for the first) came to `answer`, or `None` to stop:
    /// it got an HTTP answer, the attempts are spent, or the retry would
    /// not start before the phase's deadline, `left` from now. `jitter`,
    /// from 0 to 1, picks the pause between half the backoff and all of it.
    pub fn pause_after(
        &self,
        answer: &Answer,
        attempt: u32,
        left: Duration,
        jitter: f64,
    ) -> Option<Duration> {
        if !matches!(answer, Answer::Transport { .. }) || attempt >= self.attempts {
            return None;
        }
        let backoff = self.backoff.saturating_mul(1 << (attempt - 1).min(16));
        let pause = backoff.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0);
        (pause < left).then_some(pause)
    }
}

/// What an order came to over all its attempts: `last` is its last
/// attempt's outcome, `unanswered` whether an earlier attempt was sent and
/// never answered. Only a 201 — the order, or its replay — settles such an
/// attempt. Any other answer speaks for that retry alone: the first
/// attempt may still be running and commit, so the order stays in doubt
/// and counts as no answer (it may explain one recorded order).
pub fn settle(last: Outcome, unanswered: bool) -> Outcome {
    match last {
        Outcome::Created => Outcome::Created,
        _ if unanswered => Outcome::NoAnswer,
        other => other,
    }
}

/// An order as it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub outcome: Outcome,
    /// The 201's, first answer or replay: one per order at most.
    pub ack: Option<Ack>,
    pub retries: Retries,
}

/// Sends `request` to `target` until an attempt gets an HTTP answer or
/// `policy` says stop; no retry starts at or after `deadline`.
pub async fn place(
    target: &Target,
    request: &OrderRequest,
    policy: RetryPolicy,
    deadline: Instant,
) -> Placed {
    let mut retries = Retries::default();
    let mut unanswered = false;
    let mut attempt = 1;
    loop {
        let answer = target.order(request).await;
        if attempt > 1 && matches!(answer, Answer::Http { replayed: true, .. }) {
            retries.replayed += 1;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(pause) = policy.pause_after(&answer, attempt, left, rand::random()) else {
            let (last, ack) = answer.into_parts();
            let outcome = settle(last, unanswered);
            return Placed {
                outcome,
                ack,
                retries,
            };
        };
        unanswered |= answer
            == Answer::Transport {
                may_have_arrived: true,
            };
        retries.sent += 1;
        attempt += 1;
        tokio::time::sleep(pause).await;
    }
}

#[cfg(test)]
mod tests;
