//! The analytics service's storage in its SQLite database: the kept events, the counters per
//! bucket (one row per bucket, metric and dimension, added to with an upsert), and each
//! order's placed and completed times.

use analytics_domain::{
    Aggregates, Bucket, Increment, Metric, OrderMoment, OrderTimes, percentile_index,
};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use rusqlite::{OptionalExtension as _, params};
use store::analytics::{
    AnalyticsStore, AnalyticsTx, ArchiveBacklog, ArchiveFile, CompletionTimes, Point, Total,
    Unarchived,
};
use store_sql::analytics::counter_rows;
use store_sql::value::{envelope_json, parse_envelope, parse_uuid, to_limit, unix_millis};
use uuid::Uuid;

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;
use crate::rows::{column, execute, scalar};
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

    async fn archive_backlog(&self) -> store::Result<Vec<ArchiveBacklog>> {
        const WHAT: &str = "read the archive backlog";
        // Sums the size of every event not archived yet: off the async workers.
        let rows: Vec<(i64, i64, i64, i64)> = self
            .database
            .read_off_workers(WHAT, |database| {
                database.read(WHAT, |connection| {
                    connection
                        .prepare_cached(concat!(
                            "SELECT occurred_at - (occurred_at % 3600000) AS hour, COUNT(*), ",
                            "SUM(LENGTH(CAST(envelope AS BLOB))), ",
                            now_ms!(),
                            " - MIN(kept_at) FROM analytics_events WHERE archive_file IS NULL ",
                            "GROUP BY hour ORDER BY hour"
                        ))?
                        .query_map([], |row| {
                            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                        })?
                        .collect()
                })
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(
                |(hour_start_ms, events, bytes, oldest_age_ms)| ArchiveBacklog {
                    hour_start_ms,
                    events: u64::try_from(events).unwrap_or(0),
                    bytes: u64::try_from(bytes).unwrap_or(0),
                    oldest_age_ms,
                },
            )
            .collect())
    }

    async fn unwritten_files(&self) -> store::Result<Vec<String>> {
        self.database
            .read("list unwritten archive files", |connection| {
                column(
                    connection,
                    "SELECT name FROM archive_files WHERE written_at IS NULL ORDER BY name",
                    [],
                )
            })
    }

    async fn file_events(&self, name: &str) -> store::Result<Vec<Envelope>> {
        const WHAT: &str = "read an archive file's events";
        let name = name.to_owned();
        // A whole file's events, read and parsed off the async workers.
        self.database
            .read_off_workers(WHAT, move |database| {
                let envelopes: Vec<String> = database.read(WHAT, |connection| {
                    column(
                        connection,
                        "SELECT envelope FROM analytics_events WHERE archive_file = ? \
                         ORDER BY occurred_at, message_id",
                        [name],
                    )
                })?;
                envelopes
                    .iter()
                    .map(|envelope| parse_envelope(envelope))
                    .collect()
            })
            .await
    }

    async fn mark_written(&self, name: &str) -> store::Result<()> {
        let name = name.to_owned();
        self.database
            .write("mark an archive file written", move |connection| {
                execute(
                    connection,
                    concat!(
                        "UPDATE archive_files SET written_at = ",
                        now_ms!(),
                        " WHERE name = ? AND written_at IS NULL"
                    ),
                    [name],
                )
            })
            .await?;
        Ok(())
    }

    async fn archive_files(&self) -> store::Result<Vec<ArchiveFile>> {
        let rows: Vec<(String, i64, bool)> =
            self.database.read("list archive files", |connection| {
                connection
                    .prepare_cached(
                        "SELECT name, events, written_at IS NOT NULL FROM archive_files ORDER BY name",
                    )?
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect()
            })?;
        Ok(rows
            .into_iter()
            .map(|(name, events, written)| ArchiveFile {
                name,
                events: u64::try_from(events).unwrap_or(0),
                written,
            })
            .collect())
    }

    async fn aggregates(&self) -> store::Result<Aggregates> {
        let (counters, orders) = self.database.read("read the aggregates", |connection| {
            let read = connection.unchecked_transaction()?;
            let counters = read
                .prepare(
                    "SELECT bucket, start_ms, metric, dimension, value FROM analytics_counters",
                )?
                .query_map([], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let orders = read
                .prepare("SELECT order_id, placed_at_ms, completed_at_ms FROM analytics_orders")?
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            read.finish()?;
            Ok((counters, orders))
        })?;
        store_sql::analytics::aggregates(counters, orders)
    }

    async fn archive_index(&self) -> store::Result<Vec<(Uuid, Option<String>, i64)>> {
        let rows: Vec<(String, Option<String>, i64)> =
            self.database.read("read the archive index", |connection| {
                connection
                    .prepare_cached(concat!(
                        "SELECT message_id, archive_file, ",
                        now_ms!(),
                        " - kept_at FROM analytics_events ORDER BY message_id"
                    ))?
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
                    .collect()
            })?;
        rows.into_iter()
            .map(|(id, file, age)| Ok((parse_uuid(&id)?, file, age)))
            .collect()
    }
}

#[async_trait]
impl AnalyticsTx for SqliteTx {
    async fn keep_event(&mut self, envelope: &Envelope) -> store::Result<bool> {
        let kept = execute(
            self.connection(),
            concat!(
                "INSERT INTO analytics_events (message_id, message_type, order_id, occurred_at, envelope, kept_at) ",
                "VALUES (?, ?, ?, ?, ?, ",
                now_ms!(),
                ") ON CONFLICT (message_id) DO NOTHING"
            ),
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

    async fn unarchived(
        &mut self,
        hour_start_ms: i64,
        max: usize,
    ) -> store::Result<Vec<Unarchived>> {
        let rows: Vec<(String, i64, i64)> = self
            .connection()
            .prepare_cached(
                "SELECT message_id, occurred_at, LENGTH(CAST(envelope AS BLOB)) FROM analytics_events \
                 WHERE archive_file IS NULL AND occurred_at >= ? AND occurred_at < ? \
                 ORDER BY occurred_at, message_id LIMIT ?",
            )
            .and_then(|mut statement| {
                statement
                    .query_map(
                        params![hour_start_ms, hour_start_ms + 3_600_000, to_limit(max)],
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )?
                    .collect()
            })
            .or_store_error("read unarchived events")?;
        rows.into_iter()
            .map(|(id, occurred_at_ms, bytes)| {
                Ok(Unarchived {
                    message_id: parse_uuid(&id)?,
                    occurred_at_ms,
                    bytes: u64::try_from(bytes).unwrap_or(0),
                })
            })
            .collect()
    }

    async fn claim_file(
        &mut self,
        name: &str,
        hour_start_ms: i64,
        message_ids: &[Uuid],
    ) -> store::Result<u64> {
        execute(
            self.connection(),
            "INSERT INTO archive_files (name, hour_start_ms, events) VALUES (?, ?, 0) \
             ON CONFLICT (name) DO NOTHING",
            params![name, hour_start_ms],
        )
        .or_store_error("record an archive file")?;
        let mut taken = 0u64;
        for message_id in message_ids {
            taken += execute(
                self.connection(),
                "UPDATE analytics_events SET archive_file = ? \
                 WHERE message_id = ? AND archive_file IS NULL",
                params![name, message_id.to_string()],
            )
            .or_store_error("assign an event to its archive file")? as u64;
        }
        execute(
            self.connection(),
            "UPDATE archive_files SET events = events + ? WHERE name = ?",
            params![i64::try_from(taken).unwrap_or(i64::MAX), name],
        )
        .or_store_error("count an archive file's events")?;
        Ok(taken)
    }
}
