//! The payment service's storage port: one payment per order.

use crate::{Result, UnitOfWork};
use async_trait::async_trait;
use contracts::value::OrderId;
use payment_domain::{Payment, PaymentStatus};

/// The payment service's storage: one payment per order.
#[async_trait]
pub trait PaymentStore: Send + Sync {
    /// # Errors
    /// [`crate::StoreError::Unavailable`] when the database cannot be reached.
    async fn begin(&self) -> Result<Box<dyn PaymentTx>>;

    /// The order's payment, if any.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn payment(&self, order_id: OrderId) -> Result<Option<Payment>>;

    /// Every payment, for audits and `orderflow verify`.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn payments(&self) -> Result<Vec<Payment>>;

    /// Records pending payments before the gateway is called, all or none, each as
    /// [`PaymentTx::insert_pending`] would: `false` for an order that already has a payment.
    /// A store that can does it in one round trip; by default, one transaction of inserts.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails; nothing was recorded then.
    async fn record_pending(&self, payments: &[Payment]) -> Result<Vec<bool>> {
        let mut tx = self.begin().await?;
        let mut recorded = Vec::with_capacity(payments.len());
        for payment in payments {
            recorded.push(tx.insert_pending(payment).await?);
        }
        tx.commit().await?;
        Ok(recorded)
    }
}

/// One transaction on the payment database.
#[async_trait]
pub trait PaymentTx: UnitOfWork {
    /// Records a pending payment before the gateway is called. `false` when the order already
    /// has a payment (it is never replaced).
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn insert_pending(&mut self, payment: &Payment) -> Result<bool>;

    /// Moves the order's payment to `status`.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn set_status(
        &mut self,
        order_id: OrderId,
        status: PaymentStatus,
        failure_reason: Option<&str>,
    ) -> Result<()>;
}
