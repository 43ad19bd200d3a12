//! The analytics service's port: the events of the stream it has kept, the counters per
//! minute and per hour, each order's placed and completed times, and which archive file holds
//! each event.

use analytics_domain::{Aggregates, Bucket, Increment, Metric, OrderMoment, OrderTimes};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use uuid::Uuid;

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

/// The events of one hour (by when they occurred) that no archive file holds yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveBacklog {
    /// Unix ms of the hour's start.
    pub hour_start_ms: i64,
    pub events: u64,
    /// Their envelopes' JSON, in bytes.
    pub bytes: u64,
    /// How long ago the first of them was kept, by the database's clock.
    pub oldest_age_ms: i64,
}

/// An event not archived yet, in archive order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unarchived {
    pub message_id: Uuid,
    pub occurred_at_ms: i64,
    /// Its envelope's JSON, in bytes.
    pub bytes: u64,
}

/// An archive file as the analytics database records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveFile {
    pub name: String,
    pub events: u64,
    /// `false` while claimed and not yet written (a crash in between leaves it so).
    pub written: bool,
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

    /// The hours that hold events no archive file holds yet, oldest first.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn archive_backlog(&self) -> Result<Vec<ArchiveBacklog>>;

    /// The files claimed and not marked written yet, by name.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn unwritten_files(&self) -> Result<Vec<String>>;

    /// The events a file holds, in archive order (by when they occurred, then by id).
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn file_events(&self, name: &str) -> Result<Vec<Envelope>>;

    /// Marks a claimed file written.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn mark_written(&self, name: &str) -> Result<()>;

    /// Every archive file, by name.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn archive_files(&self) -> Result<Vec<ArchiveFile>>;

    /// Every kept event's id with the file that holds it (`None`: not archived yet) and how
    /// long ago it was kept (ms, by the database's clock), by id: for `orderflow archive
    /// verify`.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn archive_index(&self) -> Result<Vec<(Uuid, Option<String>, i64)>>;

    /// Every counter and every order's two moments, read at one moment: for comparing with a
    /// rebuild (`orderflow archive rebuild`).
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn aggregates(&self) -> Result<Aggregates>;
}

/// One transaction on the analytics database.
#[async_trait]
pub trait AnalyticsTx: UnitOfWork {
    /// Keeps a streamed event (for the archive and rebuilds); `false` when it was kept already.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn keep_event(&mut self, envelope: &Envelope) -> Result<bool>;

    /// Keeps several streamed events, in order; an adapter that can write them in one
    /// statement does.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn keep_events(&mut self, envelopes: &[&Envelope]) -> Result<()> {
        for envelope in envelopes {
            self.keep_event(envelope).await?;
        }
        Ok(())
    }

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

    /// Records each moment in turn, as [`AnalyticsTx::note_moment`] does, and returns what was
    /// known of its order before it: a later moment of the same order sees the earlier ones.
    /// Callers give them in order id order (each order's moments as they came), the order an
    /// adapter that locks rows locks them in; an adapter that can record them in a few
    /// statements does.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn note_moments(
        &mut self,
        moments: &[(OrderId, OrderMoment, i64)],
    ) -> Result<Vec<OrderTimes>> {
        let mut before = Vec::with_capacity(moments.len());
        for (order_id, moment, at_ms) in moments {
            before.push(self.note_moment(*order_id, *moment, *at_ms).await?);
        }
        Ok(before)
    }

    /// At most `max` of the hour's events no file holds yet, in archive order.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn unarchived(&mut self, hour_start_ms: i64, max: usize) -> Result<Vec<Unarchived>>;

    /// Claims a file, or more of one claimed before: records it (not written yet) unless it
    /// is recorded already, assigns it the events of `message_ids` that no file holds, and adds
    /// them to its count of events. Returns how many it took: fewer than asked means another
    /// archiver took some first (a caller claiming a new file then drops the transaction).
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn claim_file(
        &mut self,
        name: &str,
        hour_start_ms: i64,
        message_ids: &[Uuid],
    ) -> Result<u64>;
}

/// An object in blob storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobEntry {
    /// Its path from the store's root, e.g. `events/date=2026-12-03/hour=10/….ndjson.gz`.
    pub path: String,
    pub size: u64,
}

/// Where the analytics archive's files are kept: a local directory, Azure Blob, S3 or GCS.
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Writes `bytes` at `path`, replacing what was there.
    ///
    /// # Errors
    /// When the store cannot be written.
    async fn put(&self, path: &str, bytes: Vec<u8>) -> anyhow::Result<()>;

    /// The object at `path`; `None` when there is none.
    ///
    /// # Errors
    /// When the store cannot be read.
    async fn get(&self, path: &str) -> anyhow::Result<Option<Vec<u8>>>;

    /// Every object under `prefix`, by path.
    ///
    /// # Errors
    /// When the store cannot be listed.
    async fn list(&self, prefix: &str) -> anyhow::Result<Vec<BlobEntry>>;
}
