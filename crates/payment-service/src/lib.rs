//! The payment service: at most one successful charge per order, refunds for compensation.
//!
//! A charge is recorded as pending before the gateway is called, and the gateway is called
//! with the order id as idempotency key: a crash between the call and the commit is retried
//! with the same key, so the customer is never charged twice.

pub mod ports;
mod simulated;

use std::sync::Arc;

use async_trait::async_trait;
use contracts::value::OrderId;
use contracts::{
    ChargePayment, Envelope, Message, PaymentFailed, PaymentRefunded, PaymentSucceeded,
};
use payment_domain::{OnCharge, OnRefund, Payment, PaymentStatus};
use time::OffsetDateTime;
use tracing::info;
use transport::{HandleError, Handler};
use uuid::Uuid;

pub use simulated::{DECLINED_TOKEN, HELD_TOKEN, SimulatedGateway, SimulatedGatewaySettings};

use ports::{ChargeOutcome, PaymentGateway};
use store::payment::PaymentStore;

/// The payment service's use cases.
pub struct PaymentService {
    store: Arc<dyn PaymentStore>,
    gateway: Arc<dyn PaymentGateway>,
}

impl PaymentService {
    pub fn new(store: Arc<dyn PaymentStore>, gateway: Arc<dyn PaymentGateway>) -> Self {
        Self { store, gateway }
    }

    /// Every payment, for audits.
    ///
    /// # Errors
    /// When the payments cannot be read.
    pub async fn payments(&self) -> store::Result<Vec<Payment>> {
        self.store.payments().await
    }

    async fn charge(
        &self,
        envelope: &Envelope,
        command: &ChargePayment,
    ) -> Result<(), HandleError> {
        let order_id = command.order_id;
        let existing = self.store.payment(order_id).await?;
        let payment = match (Payment::on_charge(existing.as_ref()), existing) {
            (OnCharge::AlreadySucceeded, Some(payment)) => {
                return self.answer(envelope, succeeded(&payment), None).await;
            }
            (OnCharge::AlreadyFailed(reason), _) => {
                return self
                    .answer(envelope, PaymentFailed { order_id, reason }.into(), None)
                    .await;
            }
            (_, Some(pending)) => pending,
            (_, None) => {
                let pending = Payment {
                    payment_id: Uuid::now_v7(),
                    order_id,
                    amount: command.amount(),
                    status: PaymentStatus::Pending,
                    failure_reason: None,
                };
                let mut tx = self.store.begin().await?;
                tx.insert_pending(&pending).await?;
                tx.commit().await?;
                // Another consumer may have recorded its own first: that one counts.
                self.store.payment(order_id).await?.unwrap_or(pending)
            }
        };
        let outcome = self
            .gateway
            .charge(
                &order_id.to_string(),
                &payment.amount,
                &command.payment_token,
            )
            .await
            .map_err(|unavailable| HandleError::Unavailable(unavailable.into()))?;
        match outcome {
            ChargeOutcome::Captured => {
                info!(order.id = %order_id, amount_minor = payment.amount.minor(), "payment captured");
                metrics::counter!("orderflow_payments_total", "outcome" => "captured").increment(1);
                self.answer(
                    envelope,
                    succeeded(&payment),
                    Some((PaymentStatus::Succeeded, None)),
                )
                .await
            }
            ChargeOutcome::Declined { reason } => {
                info!(order.id = %order_id, reason, "payment declined");
                metrics::counter!("orderflow_payments_total", "outcome" => "declined").increment(1);
                let reply = PaymentFailed {
                    order_id,
                    reason: reason.clone(),
                }
                .into();
                self.answer(envelope, reply, Some((PaymentStatus::Failed, Some(reason))))
                    .await
            }
        }
    }

    async fn refund(&self, envelope: &Envelope, order_id: OrderId) -> Result<(), HandleError> {
        let existing = self.store.payment(order_id).await?;
        let payment = match (Payment::on_refund(existing.as_ref()), existing) {
            (OnRefund::CallGateway, Some(payment)) => payment,
            (OnRefund::AlreadyRefunded, Some(payment)) => {
                return self.answer(envelope, refunded(&payment), None).await;
            }
            // Nothing was captured: record the request as handled and give nothing back.
            _ => return self.record_handled(envelope).await,
        };
        self.gateway
            .refund(&format!("refund-{order_id}"), &payment.amount)
            .await
            .map_err(|unavailable| HandleError::Unavailable(unavailable.into()))?;
        info!(order.id = %order_id, amount_minor = payment.amount.minor(), "payment refunded");
        metrics::counter!("orderflow_refunds_total").increment(1);
        self.answer(
            envelope,
            refunded(&payment),
            Some((PaymentStatus::Refunded, None)),
        )
        .await
    }

    /// In one transaction: the inbox record, the payment's new status if any, and the reply.
    async fn answer(
        &self,
        cause: &Envelope,
        reply: Message,
        status: Option<(PaymentStatus, Option<String>)>,
    ) -> Result<(), HandleError> {
        let mut tx = self.store.begin().await?;
        if !tx.mark_handled(cause.message_id).await? {
            return Ok(());
        }
        if let Some((status, reason)) = status {
            tx.set_status(reply.order_id(), status, reason.as_deref())
                .await?;
        }
        tx.enqueue(
            &Envelope::build(Uuid::now_v7(), &reply)
                .caused_by(cause)
                .at(OffsetDateTime::now_utc()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn record_handled(&self, cause: &Envelope) -> Result<(), HandleError> {
        let mut tx = self.store.begin().await?;
        if tx.mark_handled(cause.message_id).await? {
            tx.commit().await?;
        }
        Ok(())
    }
}

fn succeeded(payment: &Payment) -> Message {
    PaymentSucceeded {
        order_id: payment.order_id,
        payment_id: payment.payment_id,
        amount_minor: payment.amount.minor(),
    }
    .into()
}

fn refunded(payment: &Payment) -> Message {
    PaymentRefunded {
        order_id: payment.order_id,
        payment_id: payment.payment_id,
        amount_minor: payment.amount.minor(),
    }
    .into()
}

#[async_trait]
impl Handler for PaymentService {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        match envelope.decode()? {
            Message::ChargePayment(command) => self.charge(envelope, &command).await,
            Message::RefundPayment(command) => self.refund(envelope, command.order_id).await,
            other => Err(HandleError::Rejected(anyhow::anyhow!(
                "the payment service does not consume {}",
                other.message_type()
            ))),
        }
    }
}
