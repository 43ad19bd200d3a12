//! The audit reads on SQLite, for `orderflow verify`: only through the reader pool, so they
//! never take the writer lock of a running server.

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
use crate::{SqliteInventoryStore, SqliteOrderStore, SqliteQueryStore};

#[async_trait]
impl OrderAudit for SqliteOrderStore {
    async fn streams(&self, after: Option<Uuid>, max: usize) -> store::Result<Vec<AuditedStream>> {
        let rows = sqlx::query(concat!(
            "SELECT stream_id, stream_version, envelope, ",
            now_ms!(),
            " - recorded_at AS age_ms FROM events WHERE stream_id IN ",
            "(SELECT DISTINCT stream_id FROM events WHERE stream_id > ? ORDER BY stream_id LIMIT ?) ",
            "ORDER BY stream_id, stream_version"
        ))
        .bind(page_after(after))
        .bind(to_limit(max))
        .fetch_all(self.database.reader())
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
        .fetch_all(self.database.reader())
        .await
        .or_store_error("read pending deadlines")?
        .iter()
        .map(pending_deadline)
        .collect()
    }
}

#[async_trait]
impl InventoryAudit for SqliteInventoryStore {
    async fn stock_counters(&self) -> store::Result<Vec<StockCounters>> {
        sqlx::query(
            "SELECT sku, available, reserved, sold, initial, restocked FROM stock ORDER BY sku",
        )
        .fetch_all(self.database.reader())
        .await
        .or_store_error("read stock counters")?
        .iter()
        .map(stock_counters)
        .collect()
    }

    async fn reservations(&self) -> store::Result<Vec<ReservationRecord>> {
        sqlx::query("SELECT order_id, status FROM reservations ORDER BY order_id")
            .fetch_all(self.database.reader())
            .await
            .or_store_error("read reservations")?
            .iter()
            .map(reservation_record)
            .collect()
    }
}

#[async_trait]
impl QueryAudit for SqliteQueryStore {
    async fn read_model(
        &self,
        after: Option<Uuid>,
        max: usize,
    ) -> store::Result<Vec<ReadModelEntry>> {
        // One read transaction: the page's ids, events and views come from one snapshot.
        let mut tx = self
            .database
            .reader()
            .begin()
            .await
            .or_store_error("begin read transaction")?;
        let ids: Vec<String> = sqlx::query_scalar(
            // Each side limited on its own index first: the page's ids are among both sides'
            // first ones, and a page costs its size, not the rest of the read model.
            "SELECT order_id FROM (SELECT DISTINCT order_id FROM view_events WHERE order_id > ?1 \
             ORDER BY order_id LIMIT ?2) AS kept \
             UNION SELECT order_id FROM (SELECT order_id FROM order_views WHERE order_id > ?1 \
             ORDER BY order_id LIMIT ?2) AS saved ORDER BY order_id LIMIT ?2",
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
            "SELECT order_id, envelope FROM view_events WHERE order_id BETWEEN ? AND ? \
             ORDER BY order_id, message_id",
        )
        .bind(first)
        .bind(last)
        .fetch_all(&mut *tx)
        .await
        .or_store_error("read kept order events")?;
        let views =
            sqlx::query("SELECT order_id, view FROM order_views WHERE order_id BETWEEN ? AND ?")
                .bind(first)
                .bind(last)
                .fetch_all(&mut *tx)
                .await
                .or_store_error("read order views")?;
        read_model_entries(&ids, &events, &views)
    }
}
