//! Exponential backoff with full jitter, for locks that are polled.
//!
//! Redis has no "wait for this key to be deleted" for `SET NX`, so a waiter
//! that is not woken must retry. Retrying at a fixed interval makes every
//! waiter wake up together (a thundering herd) and hammer the server in
//! lock step; pure
//! exponential backoff still keeps them in step. *Full jitter* — sleep a
//! random time between zero and the exponential cap — spreads them out
//! (see the AWS Architecture Blog, "Exponential Backoff And Jitter").
//!
//! Used by `redlock`, and by a `redis` waiter while it has no subscription
//! to be woken by (`redis/wakeup.rs`). The caller bounds the total wait by
//! its own deadline; this type only says how long the next pause is.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// Pauses grow from `base` and never exceed `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The upper bound of the next pause: `base * 2^attempt`, capped.
    fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The next pause: uniformly random in `[0, ceiling]`.
    pub fn next_pause(&mut self) -> Duration {
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let nanos = rand::rng().random_range(0..=ceiling.as_nanos() as u64);
        Duration::from_nanos(nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_stay_under_a_doubling_ceiling_and_the_cap() {
        let mut backoff = Backoff::new(Duration::from_millis(2), Duration::from_millis(50));
        let ceilings = [2, 4, 8, 16, 32, 50, 50, 50];
        for ceiling in ceilings {
            let pause = backoff.next_pause();
            assert!(pause <= Duration::from_millis(ceiling), "{pause:?} > {ceiling}ms");
        }
    }

    #[test]
    fn pauses_are_jittered() {
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_millis(50));
        let pauses: std::collections::HashSet<_> = (0..20).map(|_| backoff.next_pause()).collect();
        assert!(pauses.len() > 1, "twenty pauses were all equal: no jitter");
    }

    #[test]
    fn many_attempts_do_not_overflow() {
        let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_secs(1));
        for _ in 0..100 {
            assert!(backoff.next_pause() <= Duration::from_secs(1));
        }
    }
}
