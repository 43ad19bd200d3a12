//! The analytics service's port: the events of the stream it has kept, the counters per
//! minute and per hour, and each order's placed and completed times.

use analytics_domain::{Bucket, Increment, Metric, OrderMoment, OrderTimes};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;

use crate::{Result, UnitOfWork};

/// A counter's sum over a range of buckets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Total {
    pub metric: Metric,
    pub dimension: String,
    pub value: i64,
}

/// One bucket of one counter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// Unix ms of the bucket's start.
    pub start_ms: i64,
    pub dimension: String,
    pub value: i64,
}

/// The placed → completed times of the orders completed in a range.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompletionTimes {
    /// Orders completed in the range whose placement analytics has seen.
    pub count: u64,
    pub total_ms: i64,
    /// The nearest-rank 95th percentile; `None` without any.
    pub p95_ms: Option<i64>,
}

/// The analytics database.
#[async_trait]
pub trait AnalyticsStore: Send + Sync {
    /// # Errors
    /// [`crate::StoreError::Unavailable`] when the database cannot be reached.
    async fn begin(&self) -> Result<Box<dyn AnalyticsTx>>;

    /// Each counter's sum (by metric and dimension) over the `bucket`s starting in
    /// `from_ms..to_ms`. Counters that sum to nothing may be left out.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn totals(&self, bucket: Bucket, from_ms: i64, to_ms: i64) -> Result<Vec<Total>>;

    /// `metric`'s `bucket`s starting in `from_ms..to_ms`, oldest first (then by dimension);
    /// buckets it was never counted in are absent.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn series(
        &self,
        bucket: Bucket,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<Point>>;

    /// The placed → completed times of orders completed in `from_ms..to_ms`.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn completion_times(&self, from_ms: i64, to_ms: i64) -> Result<CompletionTimes>;

    /// How many events the stream has delivered and analytics kept.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn event_count(&self) -> Result<u64>;
}

/// One transaction on the analytics database.
#[async_trait]
pub trait AnalyticsTx: UnitOfWork {
    /// Keeps a streamed event (for the archive and rebuilds); `false` when it was kept already.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn keep_event(&mut self, envelope: &Envelope) -> Result<bool>;

    /// Adds each increment to its minute's and its hour's bucket.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn add(&mut self, increments: &[Increment]) -> Result<()>;

    /// Records the order's `moment` at `at_ms` (the first one recorded stays) and returns
    /// what was known of the order before.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn note_moment(
        &mut self,
        order_id: OrderId,
        moment: OrderMoment,
        at_ms: i64,
    ) -> Result<OrderTimes>;
}
