//! The inventory service's tables: stock levels and reservations.

use async_trait::async_trait;
use contracts::StockLine;
use contracts::value::{OrderId, Sku};
use inventory_domain::{InsufficientStock, ReservationStatus, StockError, StockLevel};
use rusqlite::params;
use store::StoreError;
use store::inventory::{InventoryStore, InventoryTx};
use store_sql::inventory::{
    parse_reservation_lines, parse_reservation_status, reservation_lines_json, reserved_below_held,
    sku_stock_level, stock_level,
};

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;
use crate::rows::{execute, optional_row, optional_scalar, rows, scalar};
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

#[async_trait]
impl InventoryStore for SqliteInventoryStore {
    async fn begin(&self) -> store::Result<Box<dyn InventoryTx>> {
        Ok(Box::new(self.database.begin().await?))
    }

    async fn stock_levels(&self) -> store::Result<Vec<(Sku, StockLevel)>> {
        self.database
            .read("read stock levels", |connection| {
                rows(
                    connection,
                    "SELECT sku, available, reserved, sold, initial, restocked FROM stock ORDER BY sku",
                    [],
                )
            })?
            .iter()
            .map(sku_stock_level)
            .collect()
    }
}

impl SqliteTx {
    fn reservation_lines(&self, order_id: OrderId) -> store::Result<Vec<StockLine>> {
        let lines: String = scalar(
            self.connection(),
            "SELECT lines FROM reservations WHERE order_id = ?",
            [order_id.to_string()],
        )
        .or_store_error("read reservation lines")?;
        parse_reservation_lines(&lines)
    }

    fn set_reservation_status(
        &self,
        order_id: OrderId,
        status: ReservationStatus,
    ) -> store::Result<()> {
        execute(
            self.connection(),
            concat!(
                "UPDATE reservations SET status = ?, updated_at = ",
                now_ms!(),
                " WHERE order_id = ?"
            ),
            params![status.as_str(), order_id.to_string()],
        )
        .or_store_error("update reservation")?;
        Ok(())
    }

    /// Moves `quantity` units of `sku` from `reserved` to `to` (`available` or `sold`).
    fn unreserve(&self, line: &StockLine, to_sold: bool) -> store::Result<()> {
        let sql = if to_sold {
            "UPDATE stock SET reserved = reserved - ?1, sold = sold + ?1 WHERE sku = ?2 AND reserved >= ?1"
        } else {
            "UPDATE stock SET reserved = reserved - ?1, available = available + ?1 WHERE sku = ?2 AND reserved >= ?1"
        };
        let moved = execute(
            self.connection(),
            sql,
            params![line.quantity.get(), line.product_id.as_str()],
        )
        .or_store_error("move reserved stock")?;
        if moved != 1 {
            return Err(reserved_below_held(line));
        }
        Ok(())
    }
}

#[async_trait]
impl InventoryTx for SqliteTx {
    async fn reservation(&mut self, order_id: OrderId) -> store::Result<Option<ReservationStatus>> {
        let status: Option<String> = optional_scalar(
            self.connection(),
            "SELECT status FROM reservations WHERE order_id = ?",
            [order_id.to_string()],
        )
        .or_store_error("read reservation")?;
        status.as_deref().map(parse_reservation_status).transpose()
    }

    async fn reserve(
        &mut self,
        order_id: OrderId,
        lines: &[StockLine],
    ) -> store::Result<Result<(), InsufficientStock>> {
        for (taken, line) in lines.iter().enumerate() {
            // The conditional update is what prevents oversell; the CHECK constraint backs it.
            let reserved = execute(
                self.connection(),
                "UPDATE stock SET available = available - ?1, reserved = reserved + ?1 \
                 WHERE sku = ?2 AND available >= ?1",
                params![line.quantity.get(), line.product_id.as_str()],
            )
            .or_store_error("reserve stock")?;
            if reserved == 0 {
                // All or nothing: give back what the lines before this one took.
                for held in &lines[..taken] {
                    self.unreserve(held, false)?;
                }
                let available: Option<u32> = optional_scalar(
                    self.connection(),
                    "SELECT available FROM stock WHERE sku = ?",
                    [line.product_id.as_str()],
                )
                .or_store_error("read available stock")?;
                return Ok(Err(InsufficientStock {
                    sku: line.product_id.clone(),
                    requested: line.quantity.get(),
                    available: available.unwrap_or(0),
                }));
            }
        }
        let lines = reservation_lines_json(lines)?;
        execute(
            self.connection(),
            concat!(
                "INSERT INTO reservations (order_id, status, lines, updated_at) VALUES (?, 'held', ?, ",
                now_ms!(),
                ")"
            ),
            params![order_id.to_string(), lines],
        )
        .or_store_error("record reservation")?;
        Ok(Ok(()))
    }

    async fn release(&mut self, order_id: OrderId) -> store::Result<()> {
        for line in self.reservation_lines(order_id)? {
            self.unreserve(&line, false)?;
        }
        self.set_reservation_status(order_id, ReservationStatus::Released)
    }

    async fn commit_reservation(&mut self, order_id: OrderId) -> store::Result<()> {
        for line in self.reservation_lines(order_id)? {
            self.unreserve(&line, true)?;
        }
        self.set_reservation_status(order_id, ReservationStatus::Committed)
    }

    async fn adjust(
        &mut self,
        sku: &Sku,
        delta: i64,
    ) -> store::Result<Result<StockLevel, StockError>> {
        let row = optional_row(
            self.connection(),
            "SELECT available, reserved, sold, initial, restocked FROM stock WHERE sku = ?",
            [sku.as_str()],
        )
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
        let adjusted_rows = execute(
            self.connection(),
            "UPDATE stock SET available = available + ?1, restocked = restocked + ?1 \
             WHERE sku = ?2 AND available + ?1 >= 0",
            params![delta, sku.as_str()],
        )
        .or_store_error("adjust stock")?;
        if adjusted_rows == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(Ok(adjusted))
    }

    async fn create_stock(&mut self, sku: &Sku, initial: u32) -> store::Result<()> {
        execute(
            self.connection(),
            "INSERT INTO stock (sku, available, reserved, sold, initial, restocked) VALUES (?1, ?2, 0, 0, ?2, 0) \
             ON CONFLICT (sku) DO NOTHING",
            params![sku.as_str(), initial],
        )
        .or_store_error("create stock")?;
        Ok(())
    }
}
