//! The analytics tables' values, read the same by both SQL adapters.

use analytics_domain::{Aggregates, Bucket, CounterKey, Increment, Metric, OrderTimes};
use contracts::value::OrderId;
use store::StoreError;
use store::analytics::{Point, Total};

/// A stored metric name; one this build does not know is corrupt data.
///
/// # Errors
/// [`StoreError::Unexpected`] for an unknown name.
pub fn parse_metric(name: &str) -> store::Result<Metric> {
    Metric::from_name(name)
        .ok_or_else(|| StoreError::Unexpected(anyhow::anyhow!("unknown metric `{name}` stored")))
}

/// Rows of `(metric, dimension, value)` as [`Total`]s.
///
/// # Errors
/// [`StoreError::Unexpected`] for an unknown metric.
pub fn totals(rows: Vec<(String, String, i64)>) -> store::Result<Vec<Total>> {
    rows.into_iter()
        .map(|(metric, dimension, value)| {
            Ok(Total {
                metric: parse_metric(&metric)?,
                dimension,
                value,
            })
        })
        .collect()
}

/// Rows of `(start_ms, dimension, value)` as [`Point`]s.
pub fn points(rows: Vec<(i64, String, i64)>) -> Vec<Point> {
    rows.into_iter()
        .map(|(start_ms, dimension, value)| Point {
            start_ms,
            dimension,
            value,
        })
        .collect()
}

/// One counter row to add to: bucket name, bucket start (unix ms), metric name, dimension,
/// amount.
pub type CounterRow = (&'static str, i64, &'static str, String, i64);

/// The rows `increments` add to, each once with the sum of its increments, in key order: every
/// transaction writes its rows in the same order, so two that add to the same counters wait
/// for each other instead of deadlocking.
pub fn counter_rows(increments: &[Increment]) -> Vec<CounterRow> {
    analytics_domain::counter_rows(increments)
        .into_iter()
        .map(|(key, value)| {
            (
                key.bucket.name(),
                key.start_ms,
                key.metric.name(),
                key.dimension,
                value,
            )
        })
        .collect()
}

/// Stored counter rows `(bucket, start_ms, metric, dimension, value)` and order rows
/// `(order id, placed_at_ms, completed_at_ms)` as [`Aggregates`].
///
/// # Errors
/// [`StoreError::Unexpected`] for an unknown bucket or metric, or an order id that is not one.
pub fn aggregates(
    counters: Vec<(String, i64, String, String, i64)>,
    orders: Vec<(String, Option<i64>, Option<i64>)>,
) -> store::Result<Aggregates> {
    let mut aggregates = Aggregates::default();
    for (bucket, start_ms, metric, dimension, value) in counters {
        let bucket = Bucket::from_name(&bucket).ok_or_else(|| {
            StoreError::Unexpected(anyhow::anyhow!("unknown bucket `{bucket}` stored"))
        })?;
        let key = CounterKey {
            bucket,
            start_ms,
            metric: parse_metric(&metric)?,
            dimension,
        };
        aggregates.counters.insert(key, value);
    }
    for (order_id, placed_at_ms, completed_at_ms) in orders {
        let order_id: OrderId = order_id.parse().map_err(|error| {
            StoreError::Unexpected(anyhow::anyhow!("order id `{order_id}` stored: {error}"))
        })?;
        aggregates.orders.insert(
            order_id,
            OrderTimes {
                placed_at_ms,
                completed_at_ms,
            },
        );
    }
    Ok(aggregates)
}
