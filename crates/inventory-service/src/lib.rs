//! The inventory service: reserves all items of an order or none, releases reservations as a
//! compensation, turns them into sales when the order completes, and never lets available
//! stock go below zero.

use std::sync::Arc;

use async_trait::async_trait;
use contracts::value::{OrderId, Sku};
use contracts::{Envelope, Message, StockInsufficient, StockLine, StockReleased, StockReserved};
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

    /// Handles `envelopes` in one transaction: each message's inbox record, what it decides
    /// and its reply. A duplicate changes nothing; so does the whole batch when any message
    /// fails, and the caller then handles each on its own.
    async fn handle_together(&self, envelopes: &[&Envelope]) -> Result<(), HandleError> {
        let requests = envelopes
            .iter()
            .map(|envelope| Request::of(envelope))
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<Uuid> = envelopes.iter().map(|e| e.message_id).collect();
        let mut tx = self.store.begin().await?;
        let fresh = tx.mark_all_handled(&ids).await?;
        let work: Vec<(&Envelope, Request)> = envelopes
            .iter()
            .zip(requests)
            .zip(fresh)
            .filter_map(|((envelope, request), fresh)| fresh.then_some((*envelope, request)))
            .collect();
        if work.is_empty() {
            return Ok(());
        }
        if work.len() > 1 {
            let orders: Vec<OrderId> = work.iter().map(|(_, r)| r.order_id()).collect();
            let lines: Vec<&StockLine> = work.iter().flat_map(|(_, r)| r.lines()).collect();
            tx.lock_orders_and_stock(&orders, &lines).await?;
        }
        let now = OffsetDateTime::now_utc();
        let mut replies = Vec::with_capacity(work.len());
        for (envelope, request) in &work {
            if let Some(reply) = decide(tx.as_mut(), request).await? {
                replies.push(
                    Envelope::build(Uuid::now_v7(), &reply)
                        .caused_by(envelope)
                        .at(now),
                );
            }
        }
        tx.enqueue_all(&replies).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// What a message asks of the inventory.
enum Request {
    Reserve {
        order_id: OrderId,
        lines: Vec<StockLine>,
    },
    Release(OrderId),
    /// The order completed: its reservation is sold.
    Commit(OrderId),
}

impl Request {
    fn of(envelope: &Envelope) -> Result<Self, HandleError> {
        match envelope.decode()? {
            Message::ReserveStock(command) => Ok(Self::Reserve {
                order_id: command.order_id,
                lines: command.items,
            }),
            Message::ReleaseStock(command) => Ok(Self::Release(command.order_id)),
            Message::OrderCompleted(event) => Ok(Self::Commit(event.order_id)),
            other => Err(HandleError::Rejected(anyhow::anyhow!(
                "the inventory service does not consume {}",
                other.message_type()
            ))),
        }
    }

    fn order_id(&self) -> OrderId {
        match self {
            Self::Reserve { order_id, .. } | Self::Release(order_id) | Self::Commit(order_id) => {
                *order_id
            }
        }
    }

    fn lines(&self) -> &[StockLine] {
        match self {
            Self::Reserve { lines, .. } => lines,
            Self::Release(_) | Self::Commit(_) => &[],
        }
    }
}

/// Carries out one request in `tx`; the reply to send, if any. A reservation takes every line
/// or none, so the order gets all its items or none.
async fn decide(tx: &mut dyn InventoryTx, request: &Request) -> store::Result<Option<Message>> {
    Ok(match *request {
        Request::Reserve {
            order_id,
            ref lines,
        } => Some(
            match ReservationStatus::on_reserve(tx.reservation(order_id).await?) {
                OnReserve::AlreadyReserved => StockReserved { order_id }.into(),
                OnReserve::Reserve => match tx.reserve(order_id, lines).await? {
                    Ok(()) => StockReserved { order_id }.into(),
                    Err(insufficient) => StockInsufficient {
                        order_id,
                        product_id: insufficient.sku,
                        requested: insufficient.requested,
                        available: insufficient.available,
                    }
                    .into(),
                },
            },
        ),
        Request::Release(order_id) => {
            match ReservationStatus::on_release(tx.reservation(order_id).await?) {
                OnRelease::Release => tx.release(order_id).await?,
                OnRelease::AlreadyReleased | OnRelease::NothingHeld => {}
            }
            Some(StockReleased { order_id }.into())
        }
        Request::Commit(order_id) => {
            match ReservationStatus::on_commit(tx.reservation(order_id).await?) {
                OnCommit::Commit => tx.commit_reservation(order_id).await?,
                OnCommit::NothingHeld => {}
            }
            None
        }
    })
}

#[async_trait]
impl Handler for InventoryService {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        self.handle_together(&[envelope]).await
    }

    fn handles_batches(&self) -> bool {
        true
    }

    /// Decides on every message of the receive in one transaction; one at a time if that
    /// fails.
    async fn handle_batch(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        let together = self.handle_together(envelopes).await;
        transport::each_unless_together(self, envelopes, together).await
    }
}
