//! The inventory service: reserves all items of an order or none, releases reservations as a
//! compensation, turns them into sales when the order completes, and never lets available
//! stock go below zero.

use std::sync::Arc;

use async_trait::async_trait;
use contracts::value::{OrderId, Sku};
use contracts::{Envelope, Message, StockInsufficient, StockReleased, StockReserved};
use inventory_domain::{OnCommit, OnRelease, OnReserve, ReservationStatus, StockError, StockLevel};
use time::OffsetDateTime;
use transport::{HandleError, Handler};
use uuid::Uuid;

use store::inventory::{InventoryStore, InventoryTx};

/// The inventory service's use cases.
pub struct InventoryService {
    store: Arc<dyn InventoryStore>,
}

/// Why a stock adjustment was refused.
#[derive(Debug, thiserror::Error)]
pub enum AdjustError {
    #[error("unknown product `{0}`")]
    UnknownProduct(Sku),
    #[error(transparent)]
    Rejected(StockError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl InventoryService {
    pub fn new(store: Arc<dyn InventoryStore>) -> Self {
        Self { store }
    }

    /// Every product's stock, ordered by sku.
    ///
    /// # Errors
    /// When the stock cannot be read.
    pub async fn stock_levels(&self) -> store::Result<Vec<(Sku, StockLevel)>> {
        self.store.stock_levels().await
    }

    /// Creates stock for products that have none yet (first start).
    ///
    /// # Errors
    /// When the stock cannot be written.
    pub async fn seed_stock(&self, products: &[(Sku, u32)]) -> store::Result<()> {
        let mut tx = self.store.begin().await?;
        for (sku, initial) in products {
            tx.create_stock(sku, *initial).await?;
        }
        tx.commit().await
    }

    /// Adds (or removes, when negative) available units of a product.
    ///
    /// # Errors
    /// [`AdjustError`]; nothing changes then.
    pub async fn adjust_stock(&self, sku: &Sku, delta: i64) -> Result<StockLevel, AdjustError> {
        if !self
            .store
            .stock_levels()
            .await?
            .iter()
            .any(|(known, _)| known == sku)
        {
            return Err(AdjustError::UnknownProduct(sku.clone()));
        }
        let mut tx = self.store.begin().await?;
        let level = tx
            .adjust(sku, delta)
            .await?
            .map_err(AdjustError::Rejected)?;
        tx.commit().await?;
        Ok(level)
    }

    async fn reserve(
        &self,
        envelope: &Envelope,
        order_id: OrderId,
        lines: &[contracts::StockLine],
    ) -> Result<(), HandleError> {
        let mut tx = self.store.begin().await?;
        if !tx.mark_handled(envelope.message_id).await? {
            return Ok(());
        }
        let reply: Message = match ReservationStatus::on_reserve(tx.reservation(order_id).await?) {
            OnReserve::AlreadyReserved => StockReserved { order_id }.into(),
            OnReserve::Reserve => match tx.reserve(order_id, lines).await? {
                Ok(()) => StockReserved { order_id }.into(),
                Err(insufficient) => {
                    // Some lines may be held already: throw the whole transaction away and
                    // answer in a fresh one, so the order gets all its items or none.
                    drop(tx);
                    tx = self.store.begin().await?;
                    if !tx.mark_handled(envelope.message_id).await? {
                        return Ok(());
                    }
                    StockInsufficient {
                        order_id,
                        product_id: insufficient.sku,
                        requested: insufficient.requested,
                        available: insufficient.available,
                    }
                    .into()
                }
            },
        };
        reply_and_commit(tx, envelope, &reply).await
    }

    async fn release(&self, envelope: &Envelope, order_id: OrderId) -> Result<(), HandleError> {
        let mut tx = self.store.begin().await?;
        if !tx.mark_handled(envelope.message_id).await? {
            return Ok(());
        }
        match ReservationStatus::on_release(tx.reservation(order_id).await?) {
            OnRelease::Release => tx.release(order_id).await?,
            OnRelease::AlreadyReleased | OnRelease::NothingHeld => {}
        }
        reply_and_commit(tx, envelope, &StockReleased { order_id }.into()).await
    }

    async fn commit(&self, envelope: &Envelope, order_id: OrderId) -> Result<(), HandleError> {
        let mut tx = self.store.begin().await?;
        if !tx.mark_handled(envelope.message_id).await? {
            return Ok(());
        }
        match ReservationStatus::on_commit(tx.reservation(order_id).await?) {
            OnCommit::Commit => tx.commit_reservation(order_id).await?,
            OnCommit::NothingHeld => {}
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn reply_and_commit(
    mut tx: Box<dyn InventoryTx>,
    cause: &Envelope,
    reply: &Message,
) -> Result<(), HandleError> {
    tx.enqueue(
        &Envelope::build(Uuid::now_v7(), reply)
            .caused_by(cause)
            .at(OffsetDateTime::now_utc()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[async_trait]
impl Handler for InventoryService {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        match envelope.decode()? {
            Message::ReserveStock(command) => {
                self.reserve(envelope, command.order_id, &command.items)
                    .await
            }
            Message::ReleaseStock(command) => self.release(envelope, command.order_id).await,
            Message::OrderCompleted(event) => self.commit(envelope, event.order_id).await,
            other => Err(HandleError::Rejected(anyhow::anyhow!(
                "the inventory service does not consume {}",
                other.message_type()
            ))),
        }
    }
}
