//! The analytics tables' values, read the same by both SQL adapters.

use std::collections::BTreeMap;

use analytics_domain::{Bucket, Increment, Metric};
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
    let mut rows: BTreeMap<(&'static str, i64, &'static str, String), i64> = BTreeMap::new();
    for increment in increments {
        for bucket in Bucket::ALL {
            *rows
                .entry((
                    bucket.name(),
                    bucket.start_of(increment.at_ms),
                    increment.metric.name(),
                    increment.dimension.clone(),
                ))
                .or_insert(0) += increment.value;
        }
    }
    rows.into_iter()
        .map(|((bucket, start, metric, dimension), value)| {
            (bucket, start, metric, dimension, value)
        })
        .collect()
}
