//! The audit reads on SQLite, for `orderflow verify`: only through the reader connections,
//! so they never take the writer lock of a running server.

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

use crate::database::in_transaction;
use crate::rows::{column, rows};
use crate::{SqliteInventoryStore, SqliteOrderStore, SqliteQueryStore};

#[async_trait]
impl OrderAudit for SqliteOrderStore {
    async fn streams(&self, after: Option<Uuid>, max: usize) -> store::Result<Vec<AuditedStream>> {
        let found = self.database.read("read order streams", |connection| {
            rows(
                connection,
                concat!(
                    "SELECT stream_id, stream_version, envelope, ",
                    now_ms!(),
                    " - recorded_at AS age_ms FROM events WHERE stream_id IN ",
                    "(SELECT DISTINCT stream_id FROM events WHERE stream_id > ? ORDER BY stream_id LIMIT ?) ",
                    "ORDER BY stream_id, stream_version"
                ),
                rusqlite::params![page_after(after), to_limit(max)],
            )
        })?;
        audited_streams(&found)
    }

    async fn pending_deadlines(&self) -> store::Result<Vec<PendingDeadline>> {
        self.database
            .read("read pending deadlines", |connection| {
                rows(
                    connection,
                    concat!(
                        "SELECT order_id, step, ",
                        now_ms!(),
                        " - due_at AS overdue_ms FROM deadlines ORDER BY order_id"
                    ),
                    [],
                )
            })?
            .iter()
            .map(pending_deadline)
            .collect()
    }
}

#[async_trait]
impl InventoryAudit for SqliteInventoryStore {
    async fn stock_counters(&self) -> store::Result<Vec<StockCounters>> {
        self.database
            .read("read stock counters", |connection| {
                rows(
                    connection,
                    "SELECT sku, available, reserved, sold, initial, restocked FROM stock ORDER BY sku",
                    [],
                )
            })?
            .iter()
            .map(stock_counters)
            .collect()
    }

    async fn reservations(&self) -> store::Result<Vec<ReservationRecord>> {
        self.database
            .read("read reservations", |connection| {
                rows(
                    connection,
                    "SELECT order_id, status FROM reservations ORDER BY order_id",
                    [],
                )
            })?
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
        let after = page_after(after);
        let max = to_limit(max);
        // One read transaction: the page's ids, events and views come from one snapshot.
        let page = self.database.read("read the read model", |connection| {
            in_transaction(connection, "BEGIN", |connection| {
                let ids: Vec<String> = column(
                    connection,
                    // Each side limited on its own index first: the page's ids are among both
                    // sides' first ones, and a page costs its size, not the rest of the read
                    // model.
                    "SELECT order_id FROM (SELECT DISTINCT order_id FROM view_events WHERE order_id > ?1 \
                     ORDER BY order_id LIMIT ?2) AS kept \
                     UNION SELECT order_id FROM (SELECT order_id FROM order_views WHERE order_id > ?1 \
                     ORDER BY order_id LIMIT ?2) AS saved ORDER BY order_id LIMIT ?2",
                    rusqlite::params![after, max],
                )?;
                let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
                    return Ok(None);
                };
                let events = rows(
                    connection,
                    "SELECT order_id, envelope FROM view_events WHERE order_id BETWEEN ? AND ? \
                     ORDER BY order_id, message_id",
                    [first, last],
                )?;
                let views = rows(
                    connection,
                    "SELECT order_id, view FROM order_views WHERE order_id BETWEEN ? AND ?",
                    [first, last],
                )?;
                Ok(Some((ids, events, views)))
            })
        })?;
        let Some((ids, events, views)) = page else {
            return Ok(Vec::new());
        };
        read_model_entries(&ids, &events, &views)
    }
}
