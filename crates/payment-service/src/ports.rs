//! The payment service's port to the outside world: a card processor. Its storage port is
//! [`store::payment`].

use async_trait::async_trait;
use contracts::value::Money;

/// The outcome of a charge the gateway answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChargeOutcome {
    Captured,
    Declined { reason: String },
}

/// A gateway call that did not get an answer; retried, never charged to the message.
#[derive(Debug, thiserror::Error)]
#[error("payment gateway unavailable: {0}")]
pub struct GatewayUnavailable(pub String);

/// A card processor. Calls carry an idempotency key: the same key never charges twice.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// # Errors
    /// [`GatewayUnavailable`] when the gateway did not answer; call again with the same key.
    async fn charge(
        &self,
        idempotency_key: &str,
        amount: &Money,
        token: &str,
    ) -> Result<ChargeOutcome, GatewayUnavailable>;

    /// # Errors
    /// [`GatewayUnavailable`] when the gateway did not answer; call again with the same key.
    async fn refund(&self, idempotency_key: &str, amount: &Money)
    -> Result<(), GatewayUnavailable>;
}
