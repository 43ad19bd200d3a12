//! The audit reads on PostgreSQL, for `orderflow verify`. A page of the read model is read in
//! one read-only REPEATABLE READ transaction, so its ids, events and views agree.

use async_trait::async_trait;
use store::audit::{
    AuditedStream, InventoryAudit, OrderAudit, PendingDeadline, QueryAudit, ReadModelEntry,
    ReservationRecord, StockCounters,
};
use store_sql::audit::{
    audited_streams, page_after, pending_deadline, read_model_entries, reservation_record,
    stock_counters,
};
use store_sql::value::to_limit;
use uuid::Uuid;

use crate::error::SqlResultExt as _;
use crate::{PgInventoryStore, PgOrderStore, PgQueryStore};

#[async_trait]
impl OrderAudit for PgOrderStore {
    async fn streams(&self, after: Option<Uuid>, max: usize) -> store::Result<Vec<AuditedStream>> {
        let rows = sqlx::query(concat!(
            "SELECT stream_id, stream_version, envelope, ",
            now_ms!(),
            " - recorded_at AS age_ms FROM events WHERE stream_id IN ",
            "(SELECT DISTINCT stream_id FROM events WHERE stream_id > $1 ORDER BY stream_id LIMIT $2) ",
            "ORDER BY stream_id, stream_version"
        ))
        .bind(page_after(after))
        .bind(to_limit(max))
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read order streams")?;
        audited_streams(&rows)
    }

    async fn pending_deadlines(&self) -> store::Result<Vec<PendingDeadline>> {
        sqlx::query(concat!(
            "SELECT order_id, step, ",
            now_ms!(),
            " - due_at AS overdue_ms FROM deadlines ORDER BY order_id"
        ))
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read pending deadlines")?
        .iter()
        .map(pending_deadline)
        .collect()
    }
}

#[async_trait]
impl InventoryAudit for PgInventoryStore {
    async fn stock_counters(&self) -> store::Result<Vec<StockCounters>> {
        sqlx::query(
            "SELECT sku, available, reserved, sold, initial, restocked FROM stock ORDER BY sku",
        )
        .fetch_all(self.database.pool())
        .await
        .or_store_error("read stock counters")?
        .iter()
        .map(stock_counters)
        .collect()
    }

    async fn reservations(&self) -> store::Result<Vec<ReservationRecord>> {
        sqlx::query("SELECT order_id, status FROM reservations ORDER BY order_id")
            .fetch_all(self.database.pool())
            .await
            .or_store_error("read reservations")?
            .iter()
            .map(reservation_record)
            .collect()
    }
}

#[async_trait]
impl QueryAudit for PgQueryStore {
    async fn read_model(
        &self,
        after: Option<Uuid>,
        max: usize,
    ) -> store::Result<Vec<ReadModelEntry>> {
        let mut tx = self
            .database
            .pool()
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .or_store_error("begin read transaction")?;
        let ids: Vec<String> = sqlx::query_scalar(
            // Each side limited on its own index first: the page's ids are among both sides'
            // first ones, and a page costs its size, not the rest of the read model.
            "SELECT order_id FROM (SELECT DISTINCT order_id FROM view_events WHERE order_id > $1 \
             ORDER BY order_id LIMIT $2) AS kept \
             UNION SELECT order_id FROM (SELECT order_id FROM order_views WHERE order_id > $1 \
             ORDER BY order_id LIMIT $2) AS saved ORDER BY order_id LIMIT $2",
        )
        .bind(page_after(after))
        .bind(to_limit(max))
        .fetch_all(&mut *tx)
        .await
        .or_store_error("read read model order ids")?;
        let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
            return Ok(Vec::new());
        };
        let events = sqlx::query(
            "SELECT order_id, envelope FROM view_events WHERE order_id BETWEEN $1 AND $2 \
             ORDER BY order_id, message_id",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await
        .or_store_error("read kept order events")?;
        let views =
            sqlx::query("SELECT order_id, view FROM order_views WHERE order_id BETWEEN $1 AND $2")
                .bind(first)
                .bind(last)
                .fetch_all(&mut *tx)
                .await
                .or_store_error("read order views")?;
        read_model_entries(&ids, &events, &views)
    }
}
