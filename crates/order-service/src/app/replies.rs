//! The order service's consumer: replies from inventory and payment drive the saga.

use async_trait::async_trait;
use contracts::value::OrderId;
use contracts::{Envelope, Message};
use order_domain::saga::SagaInput;
use transport::{HandleError, Handler};

use crate::OrderService;

#[async_trait]
impl Handler for OrderService {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        let input = match envelope.decode()? {
            Message::StockReserved(_) => SagaInput::StockReserved,
            Message::StockInsufficient(m) => SagaInput::StockInsufficient {
                product_id: m.product_id,
                requested: m.requested,
                available: m.available,
            },
            Message::PaymentSucceeded(m) => SagaInput::PaymentSucceeded {
                payment_id: m.payment_id,
                amount_minor: m.amount_minor,
            },
            Message::PaymentFailed(m) => SagaInput::PaymentFailed { reason: m.reason },
            // Confirmations of compensations: nothing left to decide.
            Message::StockReleased(_) | Message::PaymentRefunded(_) => return Ok(()),
            other => {
                return Err(HandleError::Rejected(anyhow::anyhow!(
                    "the order service does not consume {}",
                    other.message_type()
                )));
            }
        };
        self.run_saga(
            OrderId::new(envelope.correlation_id),
            &input,
            Some(envelope),
        )
        .await?;
        Ok(())
    }
}
