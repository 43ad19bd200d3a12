//! What the payment service needs: storage for payments, and a payment gateway.

use async_trait::async_trait;
use payment_domain::{Payment, PaymentStatus};
use store::{Result, UnitOfWork};
use uuid::Uuid;

/// The payment service's storage: one payment per order.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// # Errors
    /// [`store::StoreError::Unavailable`] when the database cannot be reached.
    async fn begin(&self) -> Result<Box<dyn PaymentTx>>;

    /// The order's payment, if any.
    ///
    /// # Errors
    /// [`store::StoreError`] when the read fails.
    async fn payment(&self, order_id: Uuid) -> Result<Option<Payment>>;

    /// Every payment, for audits and `orderflow verify`.
    ///
    /// # Errors
    /// [`store::StoreError`] when the read fails.
    async fn payments(&self) -> Result<Vec<Payment>>;
}

/// One transaction on the payment database.
#[async_trait]
pub trait PaymentTx: UnitOfWork {
    /// Records a pending payment before the gateway is called. `false` when the order already
    /// has a payment (it is never replaced).
    ///
    /// # Errors
    /// [`store::StoreError`] when the write fails.
    async fn insert_pending(&mut self, payment: &Payment) -> Result<bool>;

    /// Moves the order's payment to `status`.
    ///
    /// # Errors
    /// [`store::StoreError`] when the write fails.
    async fn set_status(
        &mut self,
        order_id: Uuid,
        status: PaymentStatus,
        failure_reason: Option<&str>,
    ) -> Result<()>;
}

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
        amount_minor: i64,
        currency: &str,
        token: &str,
    ) -> Result<ChargeOutcome, GatewayUnavailable>;

    /// # Errors
    /// [`GatewayUnavailable`] when the gateway did not answer; call again with the same key.
    async fn refund(
        &self,
        idempotency_key: &str,
        amount_minor: i64,
    ) -> Result<(), GatewayUnavailable>;
}
