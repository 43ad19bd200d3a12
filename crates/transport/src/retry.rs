use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};

/// The longest wait, before jitter, between two tries of something that failed because a
/// dependency was down.
pub const OUTAGE_MAX_DELAY: Duration = Duration::from_secs(1);

/// How failures are retried: exponential backoff with jitter, and a number of attempts after
/// which a message that keeps failing by its own fault is dead-lettered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (3 by default).
    pub max_attempts: u32,
    pub initial_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before retry number `retry` (1 for the first retry): doubles each time up to
    /// `max_delay`, and jitter adds up to as much again (so at most twice `max_delay`).
    pub fn delay(&self, retry: u32) -> Duration {
        let mut delays = ExponentialBuilder::new()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build();
        let nth = usize::try_from(retry.saturating_sub(1)).unwrap_or(usize::MAX);
        delays.nth(nth).unwrap_or(self.max_delay)
    }

    /// The delay before retry number `retry` of something that failed because a dependency was
    /// down: the same doubling, capped at [`OUTAGE_MAX_DELAY`] (or the first delay, if longer)
    /// instead of `max_delay`, jitter on top. An outage is retried without end, so this cap is
    /// how soon the work resumes once the dependency is back.
    pub fn outage_delay(&self, retry: u32) -> Duration {
        let outage = Self {
            max_delay: self.max_delay.min(OUTAGE_MAX_DELAY.max(self.initial_delay)),
            ..*self
        };
        outage.delay(retry)
    }

    /// Whether a message that has now failed `attempts` times by its own fault is done for.
    pub fn exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        // Jitter adds up to one more base delay: compare ranges, not exact values.
        let first = policy.delay(1);
        let third = policy.delay(3);
        assert!(
            first >= Duration::from_millis(100) && first < Duration::from_millis(200),
            "{first:?}"
        );
        assert!(third >= Duration::from_millis(400), "{third:?}");
        assert!(
            policy.delay(20) <= Duration::from_secs(2),
            "{:?}",
            policy.delay(20)
        );
    }

    #[test]
    fn an_outage_is_retried_within_two_seconds_whatever_the_cap_for_a_message_s_own_faults() {
        let policy = RetryPolicy::default();
        for retry in 1..=40 {
            let delay = policy.outage_delay(retry);
            assert!(
                delay >= policy.initial_delay && delay <= Duration::from_secs(2),
                "retry {retry}: {delay:?}"
            );
        }
        assert!(
            policy.delay(12) >= Duration::from_secs(30),
            "a message that fails by its own fault still backs off up to the cap"
        );
    }

    #[test]
    fn an_outage_waits_at_least_the_first_delay_when_that_is_longer_than_a_second() {
        let slow = RetryPolicy {
            initial_delay: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        assert!(slow.outage_delay(9) >= Duration::from_secs(5));
        assert!(slow.outage_delay(9) <= Duration::from_secs(10));
    }

    #[test]
    fn three_failures_exhaust_the_default_policy() {
        let policy = RetryPolicy::default();
        assert!(!policy.exhausted(2));
        assert!(policy.exhausted(3));
    }
}
