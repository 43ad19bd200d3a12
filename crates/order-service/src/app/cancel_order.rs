//! A customer cancels an order: the saga cancels it and runs the compensations.

use contracts::value::{Email, OrderId};
use order_domain::saga::SagaInput;
use order_domain::{Order, OrderError};

use crate::OrderService;
use crate::app::saga_runner::{Outcome, SagaError};

/// Why a cancel was refused.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    #[error("order {0} does not exist")]
    NotFound(OrderId),
    #[error(transparent)]
    NotAllowed(OrderError),
    #[error(transparent)]
    Failed(SagaError),
}

impl OrderService {
    /// Cancels an order that is not completed; cancelling a cancelled order changes nothing.
    /// With an `owner` (a customer cancelling), only an order of theirs: another customer's
    /// order is not found, so that a cancel cannot tell whose orders exist.
    ///
    /// # Errors
    /// [`CancelError`].
    pub async fn cancel_order(
        &self,
        order_id: OrderId,
        owner: Option<&Email>,
    ) -> Result<Order, CancelError> {
        if let Some(owner) = owner {
            // An order's customer never changes, so checking before the cancel is enough.
            match self.load(order_id).await {
                Ok(Some((order, _))) if &order.customer_email == owner => {}
                Ok(_) => return Err(CancelError::NotFound(order_id)),
                Err(error) => return Err(CancelError::Failed(error)),
            }
        }
        match self
            .run_saga(order_id, &SagaInput::CancelRequested, None)
            .await
        {
            Ok(Outcome::Applied(order)) => Ok(order),
            // A cancel carries no message to deduplicate; read back what is there.
            Ok(Outcome::Duplicate) => match self.order(order_id).await {
                Ok(Some(order)) => Ok(order),
                Ok(None) => Err(CancelError::NotFound(order_id)),
                Err(error) => Err(CancelError::Failed(error)),
            },
            Err(SagaError::UnknownOrder(id)) => Err(CancelError::NotFound(id)),
            Err(SagaError::Rejected(rejection)) => Err(CancelError::NotAllowed(rejection)),
            Err(other) => Err(CancelError::Failed(other)),
        }
    }
}
