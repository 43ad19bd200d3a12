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
            // Confirmations of compensations: nothing left to decide.
            Message::StockReleased(_) | Message::PaymentRefunded(_) => return Ok(()),
            message => {
                let message_type = message.message_type();
                SagaInput::from_reply(message).ok_or_else(|| {
                    HandleError::Rejected(anyhow::anyhow!(
                        "the order service does not consume {message_type}"
                    ))
                })?
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
