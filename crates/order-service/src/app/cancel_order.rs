//! A customer cancels an order: the saga cancels it and runs the compensations.

use contracts::value::OrderId;
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
    ///
    /// # Errors
    /// [`CancelError`].
    pub async fn cancel_order(&self, order_id: OrderId) -> Result<Order, CancelError> {
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
