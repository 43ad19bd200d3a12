//! Reads straight from the event store: an order is readable the moment it is accepted, even
//! before the read model has caught up.

use contracts::Envelope;
use contracts::value::OrderId;
use order_domain::Order;

use crate::OrderService;
use crate::app::saga_runner::SagaError;

impl OrderService {
    /// The order's current state, folded from its events.
    ///
    /// # Errors
    /// When the stream cannot be read.
    pub async fn order(&self, order_id: OrderId) -> Result<Option<Order>, SagaError> {
        Ok(self.load(order_id).await?.map(|(order, _)| order))
    }

    /// The order's events in stream order (its audit trail).
    ///
    /// # Errors
    /// When the stream cannot be read.
    pub async fn events(&self, order_id: OrderId) -> store::Result<Vec<Envelope>> {
        Ok(self
            .store
            .load(order_id)
            .await?
            .into_iter()
            .map(|event| event.envelope)
            .collect())
    }
}
