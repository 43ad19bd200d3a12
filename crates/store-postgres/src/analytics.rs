//! The analytics service's tables in `analytics_service`: the kept events, the counters per
//! bucket (one row per bucket, metric and dimension, added to with an upsert), and each
//! order's placed and completed times. An order's row is locked from its read to its write,
//! so its placement and completion handled at once by two consumers still meet.

use std::collections::HashMap;

use analytics_domain::{
    Aggregates, Bucket, Increment, Metric, OrderMoment, OrderTimes, percentile_index,
};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use store::analytics::{
    AnalyticsStore, AnalyticsTx, ArchiveBacklog, ArchiveFile, CompletionTimes, Point, Total,
    Unarchived,
};
use store_sql::analytics::counter_rows;
use store_sql::value::{envelope_json, parse_envelope, parse_uuid, to_limit, unix_millis};
use uuid::Uuid;

use crate::database::PgDatabase;
use crate::error::SqlResultExt as _;
use crate::unit_of_work::PgTx;

/// [`AnalyticsStore`] on the analytics service's schema.
#[derive(Clone, Debug)]
pub struct PgAnalyticsStore {
    pub(crate) database: PgDatabase,
}

impl PgAnalyticsStore {
    /// A store on `database`, which must be the analytics service's.
    pub fn new(database: PgDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl AnalyticsStore for PgAnalyticsStore {
    async fn begin(&self) -> store::Result<Box<dyn AnalyticsTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn totals(&self, bucket: Bucket, from_ms: i64, to_ms: i64) -> store::Result<Vec<Total>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT metric, dimension, SUM(value)::BIGINT FROM analytics_counters \
             WHERE bucket = $1 AND start_ms >= $2 AND start_ms < $3 \
             GROUP BY metric, dimension ORDER BY metric, dimension",
        )
        .bind(bucket.name())
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(self.database.pool())
        .await
        .or_store_error("sum analytics counters")?;
        store_sql::analytics::totals(rows)
    }

    async fn series(
        &self,
        bucket: Bucket,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
    ) -> store::Result<Vec<Point>> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT start_ms, dimension, value FROM analytics_counters \
             WHERE bucket = $1 AND start_ms >= $2 AND start_ms < $3 AND metric = $4 \
             ORDER BY start_ms, dimension",
        )
        .bind(bucket.name())
        .bind(from_ms)
        .bind(to_ms)
        .bind(metric.name())
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read an analytics series")?;
        Ok(store_sql::analytics::points(rows))
    }

    async fn completion_times(&self, from_ms: i64, to_ms: i64) -> store::Result<CompletionTimes> {
        let (count, total_ms): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(GREATEST(completed_at_ms - placed_at_ms, 0)), 0)::BIGINT \
             FROM analytics_orders \
             WHERE completed_at_ms >= $1 AND completed_at_ms < $2 AND placed_at_ms IS NOT NULL",
        )
        .bind(from_ms)
        .bind(to_ms)
        .fetch_one(self.database.pool())
        .await
        .or_store_error("read completion times")?;
        let count = u64::try_from(count).unwrap_or(0);
        let p95_ms = match percentile_index(count, 95) {
            None => None,
            Some(index) => sqlx::query_scalar(
                "SELECT GREATEST(completed_at_ms - placed_at_ms, 0) AS took FROM analytics_orders \
                 WHERE completed_at_ms >= $1 AND completed_at_ms < $2 AND placed_at_ms IS NOT NULL \
                 ORDER BY took LIMIT 1 OFFSET $3",
            )
            .bind(from_ms)
            .bind(to_ms)
            .bind(i64::try_from(index).unwrap_or(i64::MAX))
            .fetch_optional(self.database.pool())
            .await
            .or_store_error("read the 95th percentile completion time")?,
        };
        Ok(CompletionTimes {
            count,
            total_ms,
            p95_ms,
        })
    }

    async fn event_count(&self) -> store::Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM analytics_events")
            .fetch_one(self.database.pool())
            .await
            .or_store_error("count analytics events")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn archive_backlog(&self) -> store::Result<Vec<ArchiveBacklog>> {
        let rows: Vec<(i64, i64, i64, i64)> = sqlx::query_as(concat!(
            "SELECT occurred_at - (occurred_at % 3600000) AS hour, COUNT(*), ",
            "SUM(OCTET_LENGTH(envelope))::BIGINT, ",
            now_ms!(),
            " - MIN(kept_at) FROM analytics_events WHERE archive_file IS NULL ",
            "GROUP BY hour ORDER BY hour"
        ))
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read the archive backlog")?;
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
        sqlx::query_scalar("SELECT name FROM archive_files WHERE written_at IS NULL ORDER BY name")
            .fetch_all(self.database.pool())
            .await
            .or_store_error("list unwritten archive files")
    }

    async fn file_events(&self, name: &str) -> store::Result<Vec<Envelope>> {
        let envelopes: Vec<String> = sqlx::query_scalar(
            "SELECT envelope FROM analytics_events WHERE archive_file = $1 \
             ORDER BY occurred_at, message_id",
        )
        .bind(name)
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read an archive file's events")?;
        envelopes
            .iter()
            .map(|envelope| parse_envelope(envelope))
            .collect()
    }

    async fn mark_written(&self, name: &str) -> store::Result<()> {
        sqlx::query(concat!(
            "UPDATE archive_files SET written_at = ",
            now_ms!(),
            " WHERE name = $1 AND written_at IS NULL"
        ))
        .bind(name)
        .execute(self.database.pool())
        .await
        .or_store_error("mark an archive file written")?;
        Ok(())
    }

    async fn archive_files(&self) -> store::Result<Vec<ArchiveFile>> {
        let rows: Vec<(String, i64, bool)> = sqlx::query_as(
            "SELECT name, events, written_at IS NOT NULL FROM archive_files ORDER BY name",
        )
        .fetch_all(self.database.pool())
        .await
        .or_store_error("list archive files")?;
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
        // One snapshot for both tables.
        let mut read = self
            .database
            .pool()
            .begin()
            .await
            .or_store_error("begin reading the aggregates")?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *read)
            .await
            .or_store_error("begin reading the aggregates")?;
        let counters: Vec<(String, i64, String, String, i64)> = sqlx::query_as(
            "SELECT bucket, start_ms, metric, dimension, value FROM analytics_counters",
        )
        .fetch_all(&mut *read)
        .await
        .or_store_error("read the counters")?;
        let orders: Vec<(String, Option<i64>, Option<i64>)> =
            sqlx::query_as("SELECT order_id, placed_at_ms, completed_at_ms FROM analytics_orders")
                .fetch_all(&mut *read)
                .await
                .or_store_error("read the order moments")?;
        read.commit()
            .await
            .or_store_error("end reading the aggregates")?;
        store_sql::analytics::aggregates(counters, orders)
    }

    async fn archive_index(&self) -> store::Result<Vec<(Uuid, Option<String>, i64)>> {
        let rows: Vec<(String, Option<String>, i64)> = sqlx::query_as(concat!(
            "SELECT message_id, archive_file, ",
            now_ms!(),
            " - kept_at FROM analytics_events ORDER BY message_id"
        ))
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read the archive index")?;
        rows.into_iter()
            .map(|(id, file, age)| Ok((parse_uuid(&id)?, file, age)))
            .collect()
    }
}

#[async_trait]
impl AnalyticsTx for PgTx {
    async fn keep_event(&mut self, envelope: &Envelope) -> store::Result<bool> {
        let kept = sqlx::query(
            concat!(
                "INSERT INTO analytics_events (message_id, message_type, order_id, occurred_at, envelope, kept_at) ",
                "VALUES ($1, $2, $3, $4, $5, ",
                now_ms!(),
                ") ON CONFLICT (message_id) DO NOTHING"
            ),
        )
        .bind(envelope.message_id.to_string())
        .bind(&envelope.message_type)
        .bind(envelope.correlation_id.to_string())
        .bind(unix_millis(envelope.occurred_at))
        .bind(envelope_json(envelope)?)
        .execute(&mut *self.tx)
        .await
        .or_store_error("keep streamed event")?;
        Ok(kept.rows_affected() == 1)
    }

    async fn keep_events(&mut self, envelopes: &[&Envelope]) -> store::Result<()> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let mut ids = Vec::with_capacity(envelopes.len());
        let mut types = Vec::with_capacity(envelopes.len());
        let mut orders = Vec::with_capacity(envelopes.len());
        let mut occurred = Vec::with_capacity(envelopes.len());
        let mut bodies = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            ids.push(envelope.message_id.to_string());
            types.push(envelope.message_type.clone());
            orders.push(envelope.correlation_id.to_string());
            occurred.push(unix_millis(envelope.occurred_at));
            bodies.push(envelope_json(envelope)?);
        }
        sqlx::query(concat!(
            "INSERT INTO analytics_events (message_id, message_type, order_id, occurred_at, envelope, kept_at) ",
            "SELECT message_id, message_type, order_id, occurred_at, envelope, ",
            now_ms!(),
            " FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[]) ",
            "AS e(message_id, message_type, order_id, occurred_at, envelope) ",
            "ON CONFLICT (message_id) DO NOTHING"
        ))
        .bind(ids)
        .bind(types)
        .bind(orders)
        .bind(occurred)
        .bind(bodies)
        .execute(&mut *self.tx)
        .await
        .or_store_error("keep streamed events")?;
        Ok(())
    }

    async fn add(&mut self, increments: &[Increment]) -> store::Result<()> {
        let rows = counter_rows(increments);
        if rows.is_empty() {
            return Ok(());
        }
        let mut buckets = Vec::with_capacity(rows.len());
        let mut starts = Vec::with_capacity(rows.len());
        let mut metrics = Vec::with_capacity(rows.len());
        let mut dimensions = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(rows.len());
        for (bucket, start_ms, metric, dimension, value) in rows {
            buckets.push(bucket);
            starts.push(start_ms);
            metrics.push(metric);
            dimensions.push(dimension);
            values.push(value);
        }
        // One statement for every row, added in key order (the rows' order, kept by ORDER BY
        // n): two transactions adding to the same counters wait for each other in one order.
        sqlx::query(
            "INSERT INTO analytics_counters (bucket, start_ms, metric, dimension, value) \
             SELECT bucket, start_ms, metric, dimension, value \
             FROM UNNEST($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[]) \
             WITH ORDINALITY AS c(bucket, start_ms, metric, dimension, value, n) ORDER BY n \
             ON CONFLICT (bucket, start_ms, metric, dimension) \
             DO UPDATE SET value = analytics_counters.value + excluded.value",
        )
        .bind(buckets)
        .bind(starts)
        .bind(metrics)
        .bind(dimensions)
        .bind(values)
        .execute(&mut *self.tx)
        .await
        .or_store_error("add to analytics counters")?;
        Ok(())
    }

    async fn note_moments(
        &mut self,
        moments: &[(OrderId, OrderMoment, i64)],
    ) -> store::Result<Vec<OrderTimes>> {
        if moments.is_empty() {
            return Ok(Vec::new());
        }
        // The orders, each once, in id order: their rows are created, then locked and read
        // in that order, so two transactions never wait in a cycle.
        let mut orders: Vec<String> = moments.iter().map(|(id, _, _)| id.to_string()).collect();
        orders.sort_unstable();
        orders.dedup();
        sqlx::query(
            "INSERT INTO analytics_orders (order_id) \
             SELECT order_id FROM UNNEST($1::text[]) WITH ORDINALITY AS o(order_id, n) ORDER BY n \
             ON CONFLICT DO NOTHING",
        )
        .bind(&orders)
        .execute(&mut *self.tx)
        .await
        .or_store_error("record orders")?;
        let rows: Vec<(String, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT order_id, placed_at_ms, completed_at_ms FROM analytics_orders \
             WHERE order_id = ANY($1) ORDER BY order_id FOR UPDATE",
        )
        .bind(&orders)
        .fetch_all(&mut *self.tx)
        .await
        .or_store_error("read order moments")?;
        let mut times: HashMap<String, OrderTimes> = rows
            .into_iter()
            .map(|(order_id, placed_at_ms, completed_at_ms)| {
                (
                    order_id,
                    OrderTimes {
                        placed_at_ms,
                        completed_at_ms,
                    },
                )
            })
            .collect();
        let mut before = Vec::with_capacity(moments.len());
        for (order_id, moment, at_ms) in moments {
            let known = times.entry(order_id.to_string()).or_default();
            before.push(*known);
            *known = known.with(*moment, *at_ms);
        }
        let mut placed = Vec::with_capacity(orders.len());
        let mut completed = Vec::with_capacity(orders.len());
        for order_id in &orders {
            let after = times.get(order_id).copied().unwrap_or_default();
            placed.push(after.placed_at_ms);
            completed.push(after.completed_at_ms);
        }
        sqlx::query(
            "UPDATE analytics_orders AS o SET placed_at_ms = m.placed, completed_at_ms = m.completed \
             FROM UNNEST($1::text[], $2::bigint[], $3::bigint[]) AS m(order_id, placed, completed) \
             WHERE o.order_id = m.order_id",
        )
        .bind(&orders)
        .bind(placed)
        .bind(completed)
        .execute(&mut *self.tx)
        .await
        .or_store_error("record order moments")?;
        Ok(before)
    }

    async fn note_moment(
        &mut self,
        order_id: OrderId,
        moment: OrderMoment,
        at_ms: i64,
    ) -> store::Result<OrderTimes> {
        let before = self.note_moments(&[(order_id, moment, at_ms)]).await?;
        Ok(before.first().copied().unwrap_or_default())
    }

    async fn unarchived(
        &mut self,
        hour_start_ms: i64,
        max: usize,
    ) -> store::Result<Vec<Unarchived>> {
        let rows: Vec<(String, i64, i32)> = sqlx::query_as(
            "SELECT message_id, occurred_at, OCTET_LENGTH(envelope) FROM analytics_events \
             WHERE archive_file IS NULL AND occurred_at >= $1 AND occurred_at < $2 \
             ORDER BY occurred_at, message_id LIMIT $3",
        )
        .bind(hour_start_ms)
        .bind(hour_start_ms + 3_600_000)
        .bind(to_limit(max))
        .fetch_all(&mut *self.tx)
        .await
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
        sqlx::query(
            "INSERT INTO archive_files (name, hour_start_ms, events) VALUES ($1, $2, 0) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(hour_start_ms)
        .execute(&mut *self.tx)
        .await
        .or_store_error("record an archive file")?;
        let ids: Vec<String> = message_ids.iter().map(Uuid::to_string).collect();
        let taken = sqlx::query(
            "UPDATE analytics_events SET archive_file = $1 \
             WHERE message_id = ANY($2) AND archive_file IS NULL",
        )
        .bind(name)
        .bind(&ids)
        .execute(&mut *self.tx)
        .await
        .or_store_error("assign events to their archive file")?
        .rows_affected();
        sqlx::query("UPDATE archive_files SET events = events + $1 WHERE name = $2")
            .bind(i64::try_from(taken).unwrap_or(i64::MAX))
            .bind(name)
            .execute(&mut *self.tx)
            .await
            .or_store_error("count an archive file's events")?;
        Ok(taken)
    }
}
