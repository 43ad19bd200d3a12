//! The aggregates as values: the counter rows increments add to, and a fold of events into
//! counters and order moments, as the store keeps them. A fold of every event, in any order,
//! equals what the store holds after counting the same events one by one; that is how a
//! rebuild is checked.

use std::collections::BTreeMap;

use contracts::Message;
use contracts::value::OrderId;
use time::OffsetDateTime;

use crate::{Bucket, Increment, Metric, OrderTimes, completion, increments, moment};

/// One counter: a bucket of a metric, for one dimension.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CounterKey {
    pub bucket: Bucket,
    /// Unix ms of the bucket's start.
    pub start_ms: i64,
    pub metric: Metric,
    pub dimension: String,
}

impl std::fmt::Display for CounterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let start =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.start_ms) * 1_000_000)
                .map_or_else(|_| self.start_ms.to_string(), |at| at.to_string());
        write!(
            f,
            "{} {} at {start}",
            self.bucket.name(),
            self.metric.name()
        )?;
        if !self.dimension.is_empty() {
            write!(f, " [{}]", self.dimension)?;
        }
        Ok(())
    }
}

/// The counters `increments` add to, each once with the sum of its increments (every
/// increment counts in its minute's and its hour's bucket), in key order.
pub fn counter_rows(increments: &[Increment]) -> BTreeMap<CounterKey, i64> {
    let mut rows = BTreeMap::new();
    for increment in increments {
        for bucket in Bucket::ALL {
            let key = CounterKey {
                bucket,
                start_ms: bucket.start_of(increment.at_ms),
                metric: increment.metric,
                dimension: increment.dimension.clone(),
            };
            *rows.entry(key).or_insert(0) += increment.value;
        }
    }
    rows
}

/// Every counter and every order's two moments.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Aggregates {
    pub counters: BTreeMap<CounterKey, i64>,
    pub orders: BTreeMap<OrderId, OrderTimes>,
}

impl Aggregates {
    /// Counts `message`, which occurred at `occurred_at`, as the service does; a message must
    /// be counted once (duplicates are the caller's to drop, by event id).
    pub fn count(&mut self, message: &Message, occurred_at: OffsetDateTime) {
        let mut counted = increments(message, occurred_at);
        if let Some((moment, at_ms)) = moment(message) {
            let times = self.orders.entry(message.order_id()).or_default();
            counted.extend(completion(*times, moment, at_ms));
            *times = times.with(moment, at_ms);
        }
        for (key, value) in counter_rows(&counted) {
            *self.counters.entry(key).or_insert(0) += value;
        }
    }

    /// Each way `self` (as stored) differs from `expected` (a fresh fold), one line each, at
    /// most `limit` lines and then how many more.
    pub fn differences(&self, expected: &Aggregates, limit: usize) -> Vec<String> {
        let mut lines = Vec::new();
        let keys: std::collections::BTreeSet<&CounterKey> = self
            .counters
            .keys()
            .chain(expected.counters.keys())
            .collect();
        for key in keys {
            let stored = self.counters.get(key).copied();
            let fresh = expected.counters.get(key).copied();
            if stored != fresh {
                lines.push(format!(
                    "counter {key}: stored {}, rebuilt {}",
                    shown(stored),
                    shown(fresh)
                ));
            }
        }
        let orders: std::collections::BTreeSet<&OrderId> =
            self.orders.keys().chain(expected.orders.keys()).collect();
        for order in orders {
            let stored = self.orders.get(order);
            let fresh = expected.orders.get(order);
            if stored != fresh {
                lines.push(format!(
                    "order {order}: stored {}, rebuilt {}",
                    moments(stored),
                    moments(fresh)
                ));
            }
        }
        if lines.len() > limit {
            let more = lines.len() - limit;
            lines.truncate(limit);
            lines.push(format!("… and {more} more"));
        }
        lines
    }
}

fn shown(value: Option<i64>) -> String {
    value.map_or_else(|| "nothing".to_owned(), |value| value.to_string())
}

fn moments(times: Option<&OrderTimes>) -> String {
    let Some(times) = times else {
        return "nothing".to_owned();
    };
    let at = |ms: Option<i64>| ms.map_or_else(|| "-".to_owned(), |ms| ms.to_string());
    format!(
        "placed {} completed {}",
        at(times.placed_at_ms),
        at(times.completed_at_ms)
    )
}

#[cfg(test)]
mod tests {
    use contracts::value::{Email, Quantity, Sku};
    use contracts::{OrderCompleted, OrderLine, OrderPlaced};
    use time::macros::datetime;
    use uuid::Uuid;

    use super::*;

    fn order(n: u128) -> OrderId {
        OrderId::new(Uuid::from_u128(n))
    }

    fn placed(n: u128, at: OffsetDateTime) -> Message {
        Message::from(OrderPlaced {
            order_id: order(n),
            customer_email: Email::parse("a@example.com").expect("email"),
            items: vec![line()],
            total_minor: 500,
            currency: "USD".to_owned(),
            payment_reference: "sha256:00".to_owned(),
            placed_at: at,
        })
    }

    fn completed(n: u128, at: OffsetDateTime) -> Message {
        Message::from(OrderCompleted {
            order_id: order(n),
            customer_email: Email::parse("a@example.com").expect("email"),
            items: vec![line()],
            total_minor: 500,
            currency: "USD".to_owned(),
            completed_at: at,
        })
    }

    fn line() -> OrderLine {
        OrderLine {
            product_id: Sku::parse("product-002").expect("sku"),
            name: "Mouse".to_owned(),
            quantity: Quantity::new(1).expect("quantity"),
            unit_price_minor: 500,
        }
    }

    #[test]
    fn a_fold_counts_the_completion_time_once_whichever_moment_comes_first() {
        let at = datetime!(2026-12-03 10:00:00 UTC);
        let done = datetime!(2026-12-03 10:00:02 UTC);
        let mut forward = Aggregates::default();
        forward.count(&placed(1, at), at);
        forward.count(&completed(1, done), done);
        let mut backward = Aggregates::default();
        backward.count(&completed(1, done), done);
        backward.count(&placed(1, at), at);
        assert_eq!(forward, backward);
        let timed: i64 = forward
            .counters
            .iter()
            .filter(|(key, _)| key.bucket == Bucket::Hour && key.metric == Metric::CompletionTimeMs)
            .map(|(_, value)| *value)
            .sum();
        assert_eq!(timed, 2_000);
    }

    #[test]
    fn differences_name_each_counter_and_order_that_parts() {
        let at = datetime!(2026-12-03 10:00:00 UTC);
        let mut rebuilt = Aggregates::default();
        rebuilt.count(&placed(1, at), at);
        rebuilt.count(&placed(2, at), at);
        let mut stored = rebuilt.clone();
        assert!(stored.differences(&rebuilt, 10).is_empty());

        let placed_minute = CounterKey {
            bucket: Bucket::Minute,
            start_ms: crate::millis(at),
            metric: Metric::OrdersPlaced,
            dimension: String::new(),
        };
        stored.counters.insert(placed_minute, 3);
        stored.orders.remove(&order(2));
        let lines = stored.differences(&rebuilt, 10);
        assert_eq!(
            lines,
            [
                "counter 1m orders_placed at 2026-12-03 10:00:00.0 +00:00:00: stored 3, rebuilt 2",
                &format!(
                    "order {}: stored nothing, rebuilt placed {} completed -",
                    order(2),
                    crate::millis(at)
                ),
            ]
        );
        assert_eq!(
            stored.differences(&rebuilt, 1)[1],
            "… and 1 more",
            "listed up to the limit, the rest counted"
        );
    }
}
