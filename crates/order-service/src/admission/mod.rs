//! Admission control: the order service refuses new orders while more are in flight (placed,
//! not yet completed or cancelled) than the saga can finish in good time, so that work already
//! accepted goes first and intake beyond capacity is refused at once instead of queued.
//!
//! The decision is pure ([`AdmissionSettings::decide`]) and reads only what is kept in memory
//! ([`Load`]): no database is asked per order. The measures behind it are kept by
//! [`gate::Gate`] and sampled by [`monitor::run_admission_monitor`].

pub(crate) mod gate;
pub(crate) mod monitor;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::time::Instant;

use crate::SagaDeadlines;

/// The least an automatic limit admits: what a system that has not measured its completion
/// rate yet (at start, after idling) accepts before it knows better.
pub const MIN_AUTO_LIMIT: u64 = 64;

/// The longest `Retry-After` a refusal names.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Over how long the completion rate is measured.
pub(crate) const RATE_WINDOW: Duration = Duration::from_secs(2);

/// How many orders may be in flight at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InFlightLimit {
    /// As many as end, at the rate measured over the last seconds, within the target time
    /// (Little's law), and at least [`MIN_AUTO_LIMIT`].
    Auto,
    /// This many, whatever the rate.
    Fixed(u64),
}

impl FromStr for InFlightLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.trim().eq_ignore_ascii_case("auto") {
            return Ok(Self::Auto);
        }
        match text.trim().parse::<u64>() {
            Ok(limit) if limit > 0 => Ok(Self::Fixed(limit)),
            _ => Err(format!(
                "`{text}` is neither `auto` nor a number of orders above 0"
            )),
        }
    }
}

impl fmt::Display for InFlightLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Fixed(limit) => write!(f, "{limit}"),
        }
    }
}

/// How admission decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionSettings {
    pub limit: InFlightLimit,
    /// How long an accepted order should take at most, under load: the automatic limit is
    /// the completion rate times this.
    pub target: Duration,
}

impl AdmissionSettings {
    /// The automatic limit, with a tenth of the shortest step deadline as target (3 s with
    /// the default deadlines of 30 s): orders accepted under load then end well before any
    /// deadline, even if the pipeline slows down several times after they were accepted.
    pub fn for_deadlines(deadlines: &SagaDeadlines) -> Self {
        Self {
            limit: InFlightLimit::Auto,
            target: deadlines.stock.min(deadlines.payment) / 10,
        }
    }

    /// The in-flight limit at a completion rate of `ended_per_second`.
    pub fn limit(&self, ended_per_second: f64) -> u64 {
        match self.limit {
            InFlightLimit::Fixed(limit) => limit,
            InFlightLimit::Auto => {
                let finishable = ended_per_second.max(0.0) * self.target.as_secs_f64();
                // Saturates at u64::MAX; a rate is never negative.
                #[expect(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    reason = "a non-negative count, rounded down"
                )]
                let finishable = finishable as u64;
                finishable.max(MIN_AUTO_LIMIT)
            }
        }
    }

    /// Admits one more order under `load`, or says why not and when to try again.
    ///
    /// # Errors
    /// [`Overload`] when the order would take the orders in flight past the limit.
    pub fn decide(&self, load: Load) -> Result<(), Overload> {
        let limit = self.limit(load.ended_per_second);
        if load.in_flight < limit {
            return Ok(());
        }
        Err(Overload {
            in_flight: load.in_flight,
            limit,
            retry_after: self.retry_after(load, limit),
        })
    }

    /// How long until one more order fits, if orders keep ending at the measured rate and no
    /// other is admitted meanwhile; the target time when none is ending. Whole seconds (as
    /// `Retry-After` says them), from 1 to [`MAX_RETRY_AFTER`].
    fn retry_after(&self, load: Load, limit: u64) -> Duration {
        #[expect(clippy::cast_precision_loss, reason = "order counts below 2^52")]
        let excess = (load.in_flight + 1).saturating_sub(limit) as f64;
        let seconds = if load.ended_per_second > 0.0 {
            excess / load.ended_per_second
        } else {
            self.target.as_secs_f64()
        };
        Duration::from_secs_f64(seconds.ceil().clamp(1.0, MAX_RETRY_AFTER.as_secs_f64()))
    }
}

/// What admission looks at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Load {
    /// Orders placed or being placed, and not yet completed or cancelled.
    pub in_flight: u64,
    /// Sagas that ended (completed or cancelled) per second, lately.
    pub ended_per_second: f64,
}

/// Why an order was refused: too many in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("overloaded: {} in flight, limit {limit}", orders(*in_flight))]
pub struct Overload {
    pub in_flight: u64,
    pub limit: u64,
    /// When to try again.
    pub retry_after: Duration,
}

/// `1 order`, `2 orders`.
fn orders(count: u64) -> String {
    if count == 1 {
        "1 order".to_owned()
    } else {
        format!("{count} orders")
    }
}

/// What admission sees now: for readiness and metrics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdmissionStatus {
    pub in_flight: u64,
    pub limit: u64,
    pub ended_per_second: f64,
}

impl fmt::Display for AdmissionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} in flight, limit {}, {:.1} sagas ended/s",
            orders(self.in_flight),
            self.limit,
            self.ended_per_second
        )
    }
}

/// Sagas ended per second over the last [`RATE_WINDOW`], from samples of a running count.
#[derive(Debug, Default)]
pub(crate) struct CompletionRate {
    samples: VecDeque<(Instant, u64)>,
}

impl CompletionRate {
    /// Records that `ended` sagas had ended in all at `at` (samples come in time order).
    pub(crate) fn record(&mut self, at: Instant, ended: u64) {
        self.samples.push_back((at, ended));
        // Keep one sample at or before the window's start, so the window is spanned whole.
        while self.samples.len() > 2
            && self
                .samples
                .get(1)
                .is_some_and(|(second, _)| at.duration_since(*second) >= RATE_WINDOW)
        {
            self.samples.pop_front();
        }
    }

    /// The rate between the oldest sample kept and the newest; 0 before two samples.
    pub(crate) fn per_second(&self) -> f64 {
        let (Some((first_at, first)), Some((last_at, last))) =
            (self.samples.front(), self.samples.back())
        else {
            return 0.0;
        };
        let span = last_at.duration_since(*first_at).as_secs_f64();
        if span <= 0.0 {
            return 0.0;
        }
        #[expect(clippy::cast_precision_loss, reason = "counts below 2^52")]
        let ended = last.saturating_sub(*first) as f64;
        ended / span
    }
}
