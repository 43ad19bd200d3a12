//! The inventory service's tables: stock levels and reservations.

use async_trait::async_trait;
use contracts::StockLine;
use contracts::value::{OrderId, Sku};
use inventory_domain::{InsufficientStock, ReservationStatus, StockError, StockLevel};
use store::StoreError;
use store::inventory::{InventoryStore, InventoryTx};
use store_sql::inventory::{
    parse_reservation_lines, parse_reservation_status, reservation_lines_json, reserved_below_held,
    sku_stock_level, stock_level,
};

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;
use crate::unit_of_work::SqliteTx;

/// The inventory service's storage on SQLite.
#[derive(Clone, Debug)]
pub struct SqliteInventoryStore {
    pub(crate) database: SqliteDatabase,
}

impl SqliteInventoryStore {
    pub fn new(database: SqliteDatabase) -> Self {
        Self { database }
    }
}

const STOCK_COLUMNS: &str = "available, reserved, sold, initial, restocked";

#[async_trait]
impl InventoryStore for SqliteInventoryStore {
    async fn begin(&self) -> store::Result<Box<dyn InventoryTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn stock_levels(&self) -> store::Result<Vec<(Sku, StockLevel)>> {
        let rows = sqlx::query(
            "SELECT sku, available, reserved, sold, initial, restocked FROM stock ORDER BY sku",
        )
        .fetch_all(self.database.reader())
        .await
        .or_store_error("read stock levels")?;
        rows.iter().map(sku_stock_level).collect()
    }
}

impl SqliteTx {
    async fn reservation_lines(&mut self, order_id: OrderId) -> store::Result<Vec<StockLine>> {
        let lines: String = sqlx::query_scalar("SELECT lines FROM reservations WHERE order_id = ?")
            .bind(order_id.to_string())
            .fetch_one(&mut *self.tx)
            .await
            .or_store_error("read reservation lines")?;
        parse_reservation_lines(&lines)
    }

    async fn set_reservation_status(
        &mut self,
        order_id: OrderId,
        status: ReservationStatus,
    ) -> store::Result<()> {
        sqlx::query(concat!(
            "UPDATE reservations SET status = ?, updated_at = ",
            now_ms!(),
            " WHERE order_id = ?"
        ))
        .bind(status.as_str())
        .bind(order_id.to_string())
        .execute(&mut *self.tx)
        .await
        .or_store_error("update reservation")?;
        Ok(())
    }

    /// Moves `quantity` units of `sku` from `reserved` to `to` (`available` or `sold`).
    async fn unreserve(&mut self, line: &StockLine, to_sold: bool) -> store::Result<()> {
        let sql = if to_sold {
            "UPDATE stock SET reserved = reserved - ?1, sold = sold + ?1 WHERE sku = ?2 AND reserved >= ?1"
        } else {
            "UPDATE stock SET reserved = reserved - ?1, available = available + ?1 WHERE sku = ?2 AND reserved >= ?1"
        };
        let done = sqlx::query(sql)
            .bind(line.quantity.get())
            .bind(line.product_id.as_str())
            .execute(&mut *self.tx)
            .await
            .or_store_error("move reserved stock")?;
        if done.rows_affected() != 1 {
            return Err(reserved_below_held(line));
        }
        Ok(())
    }
}

#[async_trait]
impl InventoryTx for SqliteTx {
    async fn reservation(&mut self, order_id: OrderId) -> store::Result<Option<ReservationStatus>> {
        let status: Option<String> =
            sqlx::query_scalar("SELECT status FROM reservations WHERE order_id = ?")
                .bind(order_id.to_string())
                .fetch_optional(&mut *self.tx)
                .await
                .or_store_error("read reservation")?;
        status.as_deref().map(parse_reservation_status).transpose()
    }

    async fn reserve(
        &mut self,
        order_id: OrderId,
        lines: &[StockLine],
    ) -> store::Result<Result<(), InsufficientStock>> {
        for line in lines {
            // The conditional update is what prevents oversell; the CHECK constraint backs it.
            let done = sqlx::query(
                "UPDATE stock SET available = available - ?1, reserved = reserved + ?1 \
                 WHERE sku = ?2 AND available >= ?1",
            )
            .bind(line.quantity.get())
            .bind(line.product_id.as_str())
            .execute(&mut *self.tx)
            .await
            .or_store_error("reserve stock")?;
            if done.rows_affected() == 0 {
                let available: Option<u32> =
                    sqlx::query_scalar("SELECT available FROM stock WHERE sku = ?")
                        .bind(line.product_id.as_str())
                        .fetch_optional(&mut *self.tx)
                        .await
                        .or_store_error("read available stock")?;
                return Ok(Err(InsufficientStock {
                    sku: line.product_id.clone(),
                    requested: line.quantity.get(),
                    available: available.unwrap_or(0),
                }));
            }
        }
        let lines = reservation_lines_json(lines)?;
        sqlx::query(concat!(
            "INSERT INTO reservations (order_id, status, lines, updated_at) VALUES (?, 'held', ?, ",
            now_ms!(),
            ")"
        ))
        .bind(order_id.to_string())
        .bind(lines)
        .execute(&mut *self.tx)
        .await
        .or_store_error("record reservation")?;
        Ok(Ok(()))
    }

    async fn release(&mut self, order_id: OrderId) -> store::Result<()> {
        for line in self.reservation_lines(order_id).await? {
            self.unreserve(&line, false).await?;
        }
        self.set_reservation_status(order_id, ReservationStatus::Released)
            .await
    }

    async fn commit_reservation(&mut self, order_id: OrderId) -> store::Result<()> {
        for line in self.reservation_lines(order_id).await? {
            self.unreserve(&line, true).await?;
        }
        self.set_reservation_status(order_id, ReservationStatus::Committed)
            .await
    }

    async fn adjust(
        &mut self,
        sku: &Sku,
        delta: i64,
    ) -> store::Result<Result<StockLevel, StockError>> {
        let sql = format!("SELECT {STOCK_COLUMNS} FROM stock WHERE sku = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(sku.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .or_store_error("read stock")?;
        let Some(row) = row else {
            return Err(StoreError::Unexpected(anyhow::anyhow!(
                "no stock for {sku}"
            )));
        };
        let adjusted = match stock_level(&row)?.adjust(delta) {
            Ok(level) => level,
            Err(rejected) => return Ok(Err(rejected)),
        };
        // Conditional on the level still allowing it: available never goes below zero.
        let done = sqlx::query(
            "UPDATE stock SET available = available + ?1, restocked = restocked + ?1 \
             WHERE sku = ?2 AND available + ?1 >= 0",
        )
        .bind(delta)
        .bind(sku.as_str())
        .execute(&mut *self.tx)
        .await
        .or_store_error("adjust stock")?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(Ok(adjusted))
    }

    async fn create_stock(&mut self, sku: &Sku, initial: u32) -> store::Result<()> {
        sqlx::query(
            "INSERT INTO stock (sku, available, reserved, sold, initial, restocked) VALUES (?1, ?2, 0, 0, ?2, 0) \
             ON CONFLICT (sku) DO NOTHING",
        )
        .bind(sku.as_str())
        .bind(initial)
        .execute(&mut *self.tx)
        .await
        .or_store_error("create stock")?;
        Ok(())
    }
}
