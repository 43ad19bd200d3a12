//! What one event adds to the counters, and the completion time two events give together.

use contracts::Message;
use time::OffsetDateTime;

use crate::metric::product_currency;
use crate::{CancelClass, Metric};

/// An amount added to one counter at one moment; the store adds it to the minute's and the
/// hour's bucket of `at_ms`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Increment {
    pub metric: Metric,
    pub dimension: String,
    /// Unix milliseconds of the event it counts.
    pub at_ms: i64,
    pub value: i64,
}

impl Increment {
    fn new(metric: Metric, dimension: impl Into<String>, at_ms: i64, value: i64) -> Self {
        Self {
            metric,
            dimension: dimension.into(),
            at_ms,
            value,
        }
    }
}

/// The two moments of an order its completion time is measured between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderMoment {
    Placed,
    Completed,
}

/// What analytics has seen of an order's two moments (unix ms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrderTimes {
    pub placed_at_ms: Option<i64>,
    pub completed_at_ms: Option<i64>,
}

impl OrderTimes {
    fn get(self, moment: OrderMoment) -> Option<i64> {
        match moment {
            OrderMoment::Placed => self.placed_at_ms,
            OrderMoment::Completed => self.completed_at_ms,
        }
    }

    /// These times with `moment` set to `at_ms` (the first one seen stays).
    pub fn with(self, moment: OrderMoment, at_ms: i64) -> Self {
        match moment {
            OrderMoment::Placed => Self {
                placed_at_ms: self.placed_at_ms.or(Some(at_ms)),
                ..self
            },
            OrderMoment::Completed => Self {
                completed_at_ms: self.completed_at_ms.or(Some(at_ms)),
                ..self
            },
        }
    }
}

/// Unix milliseconds of `at`.
pub fn millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// The moment of an order `message` marks, with its time: `order.placed` and `order.completed`.
pub fn moment(message: &Message) -> Option<(OrderMoment, i64)> {
    match message {
        Message::OrderPlaced(placed) => Some((OrderMoment::Placed, millis(placed.placed_at))),
        Message::OrderCompleted(completed) => {
            Some((OrderMoment::Completed, millis(completed.completed_at)))
        }
        _ => None,
    }
}

/// What `message`, which occurred at `occurred_at`, adds to the counters on its own. An event
/// that carries its own time (placed, completed, cancelled) is counted at that time, any other
/// at its envelope's.
pub fn increments(message: &Message, occurred_at: OffsetDateTime) -> Vec<Increment> {
    let at = millis(occurred_at);
    match message {
        Message::OrderPlaced(placed) => vec![Increment::new(
            Metric::OrdersPlaced,
            "",
            millis(placed.placed_at),
            1,
        )],
        Message::OrderCompleted(completed) => {
            let at = millis(completed.completed_at);
            let mut increments = vec![
                Increment::new(Metric::OrdersCompleted, "", at, 1),
                Increment::new(
                    Metric::RevenueMinor,
                    completed.currency.clone(),
                    at,
                    completed.total_minor,
                ),
            ];
            for line in &completed.items {
                let units = i64::from(line.quantity.get());
                increments.push(Increment::new(
                    Metric::ProductUnits,
                    line.product_id.as_str(),
                    at,
                    units,
                ));
                increments.push(Increment::new(
                    Metric::ProductRevenueMinor,
                    product_currency(line.product_id.as_str(), &completed.currency),
                    at,
                    units.saturating_mul(line.unit_price_minor),
                ));
            }
            increments
        }
        Message::OrderCancelled(cancelled) => vec![Increment::new(
            Metric::OrdersCancelled,
            CancelClass::of(&cancelled.reason).name(),
            millis(cancelled.cancelled_at),
            1,
        )],
        Message::PaymentSucceeded(_) => vec![Increment::new(Metric::PaymentsSucceeded, "", at, 1)],
        Message::PaymentFailed(_) => vec![Increment::new(Metric::PaymentsFailed, "", at, 1)],
        Message::PaymentRefunded(_) => vec![Increment::new(Metric::PaymentsRefunded, "", at, 1)],
        Message::StockInsufficient(insufficient) => vec![Increment::new(
            Metric::StockOuts,
            insufficient.product_id.as_str(),
            at,
            1,
        )],
        _ => Vec::new(),
    }
}

/// The completion time counted when `moment` at `at_ms` is seen for an order of which
/// `before` was known: only when this event is the second of the two (in whichever order
/// they came), counted at the completion's time. A negative time (clocks of two processes
/// that disagree) counts as zero.
pub fn completion(before: OrderTimes, moment: OrderMoment, at_ms: i64) -> Vec<Increment> {
    if before.get(moment).is_some() {
        return Vec::new();
    }
    let after = before.with(moment, at_ms);
    let (Some(placed), Some(completed)) = (after.placed_at_ms, after.completed_at_ms) else {
        return Vec::new();
    };
    vec![
        Increment::new(
            Metric::CompletionTimeMs,
            "",
            completed,
            (completed - placed).max(0),
        ),
        Increment::new(Metric::CompletionsTimed, "", completed, 1),
    ]
}

#[cfg(test)]
#[path = "increments_tests.rs"]
mod tests;
