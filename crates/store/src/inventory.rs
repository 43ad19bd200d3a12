//! The inventory service's storage port: stock levels and reservations.

use crate::{Result, UnitOfWork};
use async_trait::async_trait;
use contracts::StockLine;
use contracts::value::{OrderId, Sku};
use inventory_domain::{InsufficientStock, ReservationStatus, StockError, StockLevel};

/// The inventory service's storage: stock levels and reservations.
#[async_trait]
pub trait InventoryStore: Send + Sync {
    /// # Errors
    /// [`crate::StoreError::Unavailable`] when the database cannot be reached.
    async fn begin(&self) -> Result<Box<dyn InventoryTx>>;

    /// Every product's stock, ordered by sku.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn stock_levels(&self) -> Result<Vec<(Sku, StockLevel)>>;
}

/// One transaction on the inventory database. Stock never goes below zero: adapters enforce it
/// with conditional updates and a CHECK constraint, not with an isolation level alone.
#[async_trait]
pub trait InventoryTx: UnitOfWork {
    /// The order's reservation, if one was made.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn reservation(&mut self, order_id: OrderId) -> Result<Option<ReservationStatus>>;

    /// Reserves every line, or none and reports the first that cannot be served: after an
    /// `Ok(Err(_))` the transaction holds nothing for the order and may go on.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn reserve(
        &mut self,
        order_id: OrderId,
        lines: &[StockLine],
    ) -> Result<Result<(), InsufficientStock>>;

    /// Before deciding about several orders in one transaction: takes at once, in a fixed
    /// order, every lock deciding about them takes (each order's, then each product's that
    /// `lines` or the orders' reservations touch), so that two such transactions wait for each
    /// other instead of deadlocking. An adapter on a database with one writer needs none.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the locks cannot be taken.
    async fn lock_orders_and_stock(
        &mut self,
        _orders: &[OrderId],
        _lines: &[&StockLine],
    ) -> Result<()> {
        Ok(())
    }

    /// Gives a held reservation back to available stock.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn release(&mut self, order_id: OrderId) -> Result<()>;

    /// Turns a held reservation into sold stock.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn commit_reservation(&mut self, order_id: OrderId) -> Result<()>;

    /// Adds `delta` units (negative to remove); creates the product with `delta` as its initial
    /// stock when `create` and it does not exist.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn adjust(&mut self, sku: &Sku, delta: i64) -> Result<Result<StockLevel, StockError>>;

    /// Creates a product's stock if it does not exist yet (first start, demo data).
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn create_stock(&mut self, sku: &Sku, initial: u32) -> Result<()>;
}
