//! The analytics service's storage in its SQLite database: the kept events, the counters per
//! bucket (one row per bucket, metric and dimension, added to with an upsert), and each
//! order's placed and completed times.

use analytics_domain::{Bucket, Increment, Metric, OrderMoment, OrderTimes, percentile_index};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use rusqlite::{OptionalExtension as _, params};
use store::analytics::{AnalyticsStore, AnalyticsTx, CompletionTimes, Point, Total};
use store_sql::analytics::counter_rows;
use store_sql::value::{envelope_json, unix_millis};

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;
use crate::rows::{execute, scalar};
use crate::unit_of_work::SqliteTx;

/// [`AnalyticsStore`] on the analytics service's database.
#[derive(Clone, Debug)]
pub struct SqliteAnalyticsStore {
    pub(crate) database: SqliteDatabase,
}

impl SqliteAnalyticsStore {
    /// A store on `database`, which must be the analytics service's.
    pub fn new(database: SqliteDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl AnalyticsStore for SqliteAnalyticsStore {
    async fn begin(&self) -> store::Result<Box<dyn AnalyticsTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn totals(&self, bucket: Bucket, from_ms: i64, to_ms: i64) -> store::Result<Vec<Total>> {
        let rows = self.database.read("sum analytics counters", |connection| {
            connection
                .prepare_cached(
                    "SELECT metric, dimension, SUM(value) FROM analytics_counters \
                     WHERE bucket = ? AND start_ms >= ? AND start_ms < ? \
                     GROUP BY metric, dimension ORDER BY metric, dimension",
                )?
                .query_map(params![bucket.name(), from_ms, to_ms], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
        })?;
        store_sql::analytics::totals(rows)
    }

    async fn series(
        &self,
        bucket: Bucket,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
    ) -> store::Result<Vec<Point>> {
        let rows = self
            .database
            .read("read an analytics series", |connection| {
                connection
                    .prepare_cached(
                        "SELECT start_ms, dimension, value FROM analytics_counters \
                     WHERE bucket = ? AND start_ms >= ? AND start_ms < ? AND metric = ? \
                     ORDER BY start_ms, dimension",
                    )?
                    .query_map(
                        params![bucket.name(), from_ms, to_ms, metric.name()],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )?
                    .collect::<rusqlite::Result<Vec<_>>>()
            })?;
        Ok(store_sql::analytics::points(rows))
    }

    async fn completion_times(&self, from_ms: i64, to_ms: i64) -> store::Result<CompletionTimes> {
        self.database.read("read completion times", |connection| {
            let (count, total_ms): (i64, i64) = connection
                .prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(MAX(completed_at_ms - placed_at_ms, 0)), 0) \
                     FROM analytics_orders \
                     WHERE completed_at_ms >= ? AND completed_at_ms < ? AND placed_at_ms IS NOT NULL",
                )?
                .query_row(params![from_ms, to_ms], |row| Ok((row.get(0)?, row.get(1)?)))?;
            let count = u64::try_from(count).unwrap_or(0);
            let p95_ms = match percentile_index(count, 95) {
                None => None,
                Some(index) => connection
                    .prepare_cached(
                        "SELECT MAX(completed_at_ms - placed_at_ms, 0) AS took FROM analytics_orders \
                         WHERE completed_at_ms >= ? AND completed_at_ms < ? AND placed_at_ms IS NOT NULL \
                         ORDER BY took LIMIT 1 OFFSET ?",
                    )?
                    .query_row(
                        params![from_ms, to_ms, i64::try_from(index).unwrap_or(i64::MAX)],
                        |row| row.get(0),
                    )
                    .optional()?,
            };
            Ok(CompletionTimes {
                count,
                total_ms,
                p95_ms,
            })
        })
    }

    async fn event_count(&self) -> store::Result<u64> {
        let count: i64 = self.database.read("count analytics events", |connection| {
            scalar(connection, "SELECT COUNT(*) FROM analytics_events", [])
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[async_trait]
impl AnalyticsTx for SqliteTx {
    async fn keep_event(&mut self, envelope: &Envelope) -> store::Result<bool> {
        let kept = execute(
            self.connection(),
            "INSERT INTO analytics_events (message_id, message_type, order_id, occurred_at, envelope) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
            params![
                envelope.message_id.to_string(),
                envelope.message_type,
                envelope.correlation_id.to_string(),
                unix_millis(envelope.occurred_at),
                envelope_json(envelope)?
            ],
        )
        .or_store_error("keep streamed event")?;
        Ok(kept == 1)
    }

    async fn add(&mut self, increments: &[Increment]) -> store::Result<()> {
        for (bucket, start_ms, metric, dimension, value) in counter_rows(increments) {
            execute(
                self.connection(),
                "INSERT INTO analytics_counters (bucket, start_ms, metric, dimension, value) \
                 VALUES (?, ?, ?, ?, ?) ON CONFLICT (bucket, start_ms, metric, dimension) \
                 DO UPDATE SET value = value + excluded.value",
                params![bucket, start_ms, metric, dimension, value],
            )
            .or_store_error("add to analytics counter")?;
        }
        Ok(())
    }

    async fn note_moment(
        &mut self,
        order_id: OrderId,
        moment: OrderMoment,
        at_ms: i64,
    ) -> store::Result<OrderTimes> {
        let before: Option<(Option<i64>, Option<i64>)> = self
            .connection()
            .prepare_cached(
                "SELECT placed_at_ms, completed_at_ms FROM analytics_orders WHERE order_id = ?",
            )
            .and_then(|mut statement| {
                statement
                    .query_row([order_id.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .or_store_error("read order moments")?;
        let before = before.map_or_else(OrderTimes::default, |(placed, completed)| OrderTimes {
            placed_at_ms: placed,
            completed_at_ms: completed,
        });
        let after = before.with(moment, at_ms);
        execute(
            self.connection(),
            "INSERT INTO analytics_orders (order_id, placed_at_ms, completed_at_ms) VALUES (?, ?, ?) \
             ON CONFLICT (order_id) DO UPDATE SET placed_at_ms = excluded.placed_at_ms, \
             completed_at_ms = excluded.completed_at_ms",
            params![
                order_id.to_string(),
                after.placed_at_ms,
                after.completed_at_ms
            ],
        )
        .or_store_error("record order moment")?;
        Ok(before)
    }
}
