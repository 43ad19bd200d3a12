//! The payment service: at most one successful charge per order, refunds for compensation.
//!
//! A charge is recorded as pending before the gateway is called, and the gateway is called
//! with the order id as idempotency key: a crash between the call and the commit is retried
//! with the same key, so the customer is never charged twice.

pub mod ports;
mod simulated;

use std::collections::HashSet;
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

    /// Handles `envelopes` together: the pending payments they need recorded in one
    /// transaction, the gateway called for each (at once), and every answer recorded with its
    /// inbox record and reply in one more. One outcome per message: a gateway that did not
    /// answer fails only its own message. `Err` when the batch failed as a whole (nothing
    /// answered was recorded): the caller then handles each on its own.
    async fn handle_together(
        &self,
        envelopes: &[&Envelope],
    ) -> Result<Vec<Result<(), HandleError>>, HandleError> {
        let requests = envelopes
            .iter()
            .map(|envelope| Request::of(envelope))
            .collect::<Result<Vec<_>, _>>()?;
        // Each answer is decided from the payment as it stood before the batch, so two
        // requests about one order (a late charge and its refund) are taken one at a time.
        let orders: HashSet<OrderId> = requests.iter().map(Request::order_id).collect();
        if orders.len() < requests.len() {
            return Err(HandleError::Unavailable(anyhow::anyhow!(
                "two requests about one order in a batch"
            )));
        }
        let payments = self.payments_for(&requests).await?;
        let steps = requests
            .iter()
            .zip(payments)
            .map(|(request, payment)| self.step(request, payment));
        let outcomes = futures_util::future::join_all(steps).await;

        let mut tx = self.store.begin().await?;
        let answered: Vec<(&Envelope, &Answer)> = envelopes
            .iter()
            .zip(&outcomes)
            .filter_map(|(envelope, outcome)| Some((*envelope, outcome.as_ref().ok()?)))
            .collect();
        let ids: Vec<Uuid> = answered.iter().map(|(e, _)| e.message_id).collect();
        let fresh = tx.mark_all_handled(&ids).await?;
        let now = OffsetDateTime::now_utc();
        let mut replies = Vec::with_capacity(answered.len());
        for ((cause, answer), fresh) in answered.into_iter().zip(fresh) {
            if !fresh {
                continue;
            }
            if let Some((status, reason)) = &answer.status {
                tx.set_status(answer.order_id, *status, reason.as_deref())
                    .await?;
            }
            if let Some(reply) = &answer.reply {
                replies.push(
                    Envelope::build(Uuid::now_v7(), reply)
                        .caused_by(cause)
                        .at(now),
                );
            }
        }
        tx.enqueue_all(&replies).await?;
        tx.commit().await?;
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.map(drop))
            .collect())
    }

    /// The payment each request is about: the order's, recorded as pending first (in one
    /// transaction for all) for a charge that has none yet.
    async fn payments_for(&self, requests: &[Request]) -> store::Result<Vec<Option<Payment>>> {
        let mut payments = Vec::with_capacity(requests.len());
        for request in requests {
            payments.push(self.store.payment(request.order_id()).await?);
        }
        let new: Vec<(usize, Payment)> = requests
            .iter()
            .zip(&payments)
            .enumerate()
            .filter_map(|(at, (request, payment))| match (request, payment) {
                (Request::Charge(command), None) => Some((
                    at,
                    Payment {
                        payment_id: Uuid::now_v7(),
                        order_id: command.order_id,
                        amount: command.amount(),
                        status: PaymentStatus::Pending,
                        failure_reason: None,
                    },
                )),
                _ => None,
            })
            .collect();
        if new.is_empty() {
            return Ok(payments);
        }
        let pending: Vec<Payment> = new.iter().map(|(_, pending)| pending.clone()).collect();
        let recorded = self.store.record_pending(&pending).await?;
        for ((at, pending), recorded) in new.into_iter().zip(recorded) {
            payments[at] = if recorded {
                Some(pending)
            } else {
                // Another consumer recorded its own first: that one counts.
                self.store.payment(pending.order_id).await?
            };
        }
        Ok(payments)
    }

    /// What to answer `request`, calling the gateway when it must; `payment` is the order's.
    async fn step(
        &self,
        request: &Request,
        payment: Option<Payment>,
    ) -> Result<Answer, HandleError> {
        match request {
            Request::Charge(command) => self.charge(command, payment).await,
            Request::Refund(order_id) => self.refund(*order_id, payment).await,
        }
    }

    async fn charge(
        &self,
        command: &ChargePayment,
        payment: Option<Payment>,
    ) -> Result<Answer, HandleError> {
        let order_id = command.order_id;
        let payment = match (Payment::on_charge(payment.as_ref()), payment) {
            (OnCharge::AlreadySucceeded, Some(payment)) => {
                return Ok(Answer::reply(succeeded(&payment)));
            }
            (OnCharge::AlreadyFailed(reason), _) => {
                return Ok(Answer::reply(PaymentFailed { order_id, reason }.into()));
            }
            (_, Some(pending)) => pending,
            (_, None) => {
                return Err(HandleError::Rejected(anyhow::anyhow!(
                    "no payment recorded for order {order_id} before charging it"
                )));
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
        Ok(match outcome {
            ChargeOutcome::Captured => {
                info!(order.id = %order_id, amount_minor = payment.amount.minor(), "payment captured");
                metrics::counter!("orderflow_payments_total", "outcome" => "captured").increment(1);
                Answer::reply(succeeded(&payment)).moving_to(PaymentStatus::Succeeded, None)
            }
            ChargeOutcome::Declined { reason } => {
                info!(order.id = %order_id, reason, "payment declined");
                metrics::counter!("orderflow_payments_total", "outcome" => "declined").increment(1);
                let reply = PaymentFailed {
                    order_id,
                    reason: reason.clone(),
                };
                Answer::reply(reply.into()).moving_to(PaymentStatus::Failed, Some(reason))
            }
        })
    }

    async fn refund(
        &self,
        order_id: OrderId,
        payment: Option<Payment>,
    ) -> Result<Answer, HandleError> {
        let payment = match (Payment::on_refund(payment.as_ref()), payment) {
            (OnRefund::CallGateway, Some(payment)) => payment,
            (OnRefund::AlreadyRefunded, Some(payment)) => {
                return Ok(Answer::reply(refunded(&payment)));
            }
            // Nothing was captured: record the request as handled and give nothing back.
            _ => return Ok(Answer::nothing(order_id)),
        };
        self.gateway
            .refund(&format!("refund-{order_id}"), &payment.amount)
            .await
            .map_err(|unavailable| HandleError::Unavailable(unavailable.into()))?;
        info!(order.id = %order_id, amount_minor = payment.amount.minor(), "payment refunded");
        metrics::counter!("orderflow_refunds_total").increment(1);
        Ok(Answer::reply(refunded(&payment)).moving_to(PaymentStatus::Refunded, None))
    }
}

/// What a message asks of the payment service.
enum Request {
    Charge(ChargePayment),
    Refund(OrderId),
}

impl Request {
    fn of(envelope: &Envelope) -> Result<Self, HandleError> {
        match envelope.decode()? {
            Message::ChargePayment(command) => Ok(Self::Charge(command)),
            Message::RefundPayment(command) => Ok(Self::Refund(command.order_id)),
            other => Err(HandleError::Rejected(anyhow::anyhow!(
                "the payment service does not consume {}",
                other.message_type()
            ))),
        }
    }

    fn order_id(&self) -> OrderId {
        match self {
            Self::Charge(command) => command.order_id,
            Self::Refund(order_id) => *order_id,
        }
    }
}

/// What handling a message records, in one transaction with its inbox record: the payment's
/// new status, if it moves, and the reply, if any.
struct Answer {
    order_id: OrderId,
    status: Option<(PaymentStatus, Option<String>)>,
    reply: Option<Message>,
}

impl Answer {
    fn reply(reply: Message) -> Self {
        Self {
            order_id: reply.order_id(),
            status: None,
            reply: Some(reply),
        }
    }

    fn nothing(order_id: OrderId) -> Self {
        Self {
            order_id,
            status: None,
            reply: None,
        }
    }

    fn moving_to(self, status: PaymentStatus, reason: Option<String>) -> Self {
        Self {
            status: Some((status, reason)),
            ..self
        }
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
        let mut outcomes = self.handle_together(&[envelope]).await?;
        outcomes.pop().unwrap_or(Ok(()))
    }

    fn handles_batches(&self) -> bool {
        true
    }

    async fn handle_batch(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        match self.handle_together(envelopes).await {
            Ok(outcomes) => outcomes,
            Err(error) => transport::each_unless_together(self, envelopes, Err(error)).await,
        }
    }
}
