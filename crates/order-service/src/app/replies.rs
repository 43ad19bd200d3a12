//! The order service's consumer: replies from inventory and payment drive the saga, one
//! receive's worth in one transaction where they can.

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

    fn handles_batches(&self) -> bool {
        true
    }

    /// Decides on every reply of the receive in one transaction. If anything fails (a message
    /// this service cannot read, an illegal step, another writer first), nothing of the batch
    /// is kept and each reply is handled on its own, so the one at fault is charged alone.
    async fn handle_batch(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        let together = match saga_inputs(envelopes) {
            Some(inputs) => self.run_sagas_together(inputs).await,
            None => Err(HandleError::Rejected(anyhow::anyhow!(
                "a message of the batch is no reply"
            ))),
        };
        transport::each_unless_together(self, envelopes, together).await
    }
}

/// The saga input of each reply that feeds one, with its message; `None` when any message of
/// the batch cannot be read or is no reply to the order service.
fn saga_inputs<'a>(envelopes: &[&'a Envelope]) -> Option<Vec<(SagaInput, &'a Envelope)>> {
    let mut inputs = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        match envelope.decode().ok()? {
            Message::StockReleased(_) | Message::PaymentRefunded(_) => {}
            message => inputs.push((SagaInput::from_reply(message)?, *envelope)),
        }
    }
    Some(inputs)
}
