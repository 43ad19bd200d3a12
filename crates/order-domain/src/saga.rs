//! The order saga as a process manager: given the order's state and what just happened, decide
//! the order's new events, the commands to send, and the step's deadline.
//!
//! Replies may arrive twice, out of order, or after the saga gave up on them. Every decision is
//! made from the order's state, never from arrival order: a duplicate changes nothing, a late
//! stock reservation is released, a late charge is refunded.

use contracts::value::{OrderId, Sku};
use contracts::{ChargePayment, Message, RefundPayment, ReleaseStock, ReserveStock, StockLine};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Order, OrderCommand, OrderError, OrderEvent, OrderStatus, decide, evolve};

/// A step of the saga that waits for an answer, under a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SagaStep {
    AwaitingStock,
    AwaitingPayment,
}

impl SagaStep {
    pub fn as_str(self) -> &'static str {
        match self {
            SagaStep::AwaitingStock => "awaiting_stock",
            SagaStep::AwaitingPayment => "awaiting_payment",
        }
    }

    pub fn parse(raw: &str) -> Option<SagaStep> {
        [SagaStep::AwaitingStock, SagaStep::AwaitingPayment]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// What happens to the order's one pending deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    Keep,
    Set(SagaStep),
    Clear,
}

/// What the saga reacts to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SagaInput {
    StockReserved,
    StockInsufficient {
        product_id: Sku,
        requested: u32,
        available: u32,
    },
    PaymentSucceeded {
        payment_id: Uuid,
        amount_minor: i64,
    },
    PaymentFailed {
        reason: String,
    },
    DeadlineExpired(SagaStep),
    CancelRequested,
}

impl SagaInput {
    /// The input a reply from inventory or payment feeds the saga; `None` for any other
    /// message, confirmations of compensations included (nothing is left to decide on them).
    pub fn from_reply(message: Message) -> Option<Self> {
        Some(match message {
            Message::StockReserved(_) => Self::StockReserved,
            Message::StockInsufficient(m) => Self::StockInsufficient {
                product_id: m.product_id,
                requested: m.requested,
                available: m.available,
            },
            Message::PaymentSucceeded(m) => Self::PaymentSucceeded {
                payment_id: m.payment_id,
                amount_minor: m.amount_minor,
            },
            Message::PaymentFailed(m) => Self::PaymentFailed { reason: m.reason },
            _ => return None,
        })
    }
}

/// A charge the saga asks for. The order's state holds only a reference to the customer's
/// payment token, so the token is filled in by whoever keeps it ([`ChargeRequest::with_token`])
/// when the command is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeRequest {
    pub order_id: OrderId,
    pub amount_minor: i64,
    pub currency: String,
    pub payment_reference: String,
}

impl ChargeRequest {
    /// The `payment.charge` command, with the token the reference stands for.
    pub fn with_token(self, payment_token: String) -> ChargePayment {
        ChargePayment {
            order_id: self.order_id,
            amount_minor: self.amount_minor,
            currency: self.currency,
            payment_token,
        }
    }
}

/// A command the saga sends to another service. Compensations are named as such.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SagaCommand {
    ReserveStock(ReserveStock),
    ChargePayment(ChargeRequest),
    /// Compensation: give back what the order reserved.
    ReleaseStock(ReleaseStock),
    /// Compensation: give back what the order paid.
    RefundPayment(RefundPayment),
}

impl SagaCommand {
    /// The message the command is sent as; a charge is handed back instead, as it needs the
    /// payment token that the order's state does not hold.
    ///
    /// # Errors
    /// The [`ChargeRequest`] of a charge.
    pub fn into_message(self) -> Result<Message, ChargeRequest> {
        match self {
            SagaCommand::ReserveStock(c) => Ok(c.into()),
            SagaCommand::ChargePayment(c) => Err(c),
            SagaCommand::ReleaseStock(c) => Ok(c.into()),
            SagaCommand::RefundPayment(c) => Ok(c.into()),
        }
    }
}

/// The saga's decision: apply `events` to the order, send `commands`, update the deadline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaDecision {
    pub events: Vec<OrderEvent>,
    pub commands: Vec<SagaCommand>,
    pub deadline: Deadline,
}

impl SagaDecision {
    fn nothing() -> Self {
        Self {
            events: vec![],
            commands: vec![],
            deadline: Deadline::Keep,
        }
    }
}

/// Starts the saga for a newly placed order: reserve its stock, under a deadline.
///
/// # Errors
/// What [`decide`] rejects for [`OrderCommand::Place`].
pub fn start(place: OrderCommand) -> Result<SagaDecision, OrderError> {
    let events = decide(None, place)?;
    let order = events
        .iter()
        .fold(None, evolve)
        .ok_or(OrderError::NotPlaced)?;
    let items = order
        .items
        .iter()
        .map(|line| StockLine {
            product_id: line.product_id.clone(),
            quantity: line.quantity,
        })
        .collect();
    Ok(SagaDecision {
        events,
        commands: vec![SagaCommand::ReserveStock(ReserveStock {
            order_id: order.id,
            items,
        })],
        deadline: Deadline::Set(SagaStep::AwaitingStock),
    })
}

/// Decides what to do when `input` reaches the saga of `order`.
///
/// # Errors
/// [`OrderError`] when the input cannot happen in the order's state (a completed order cannot be
/// cancelled; a payment cannot precede the stock reservation).
pub fn react(
    order: &Order,
    input: SagaInput,
    at: OffsetDateTime,
) -> Result<SagaDecision, OrderError> {
    use OrderStatus::{Cancelled, Completed, InventoryReserved, Paid, Pending};
    let release = || SagaCommand::ReleaseStock(ReleaseStock { order_id: order.id });
    let refund = || SagaCommand::RefundPayment(RefundPayment { order_id: order.id });
    let cancel = |reason: String| -> Result<SagaDecision, OrderError> {
        let events = decide(Some(order), OrderCommand::Cancel { reason, at })?;
        let mut commands = vec![];
        if order.holds_stock() {
            commands.push(release());
        }
        if order.status == Paid {
            commands.push(refund());
        }
        Ok(SagaDecision {
            events,
            commands,
            deadline: Deadline::Clear,
        })
    };

    match (input, order.status) {
        (SagaInput::StockReserved, Pending) => Ok(SagaDecision {
            events: decide(Some(order), OrderCommand::ConfirmStock { at })?,
            commands: vec![SagaCommand::ChargePayment(ChargeRequest {
                order_id: order.id,
                amount_minor: order.total.minor(),
                currency: order.total.currency().to_owned(),
                payment_reference: order.payment_reference.clone(),
            })],
            deadline: Deadline::Set(SagaStep::AwaitingPayment),
        }),
        // The saga gave up before the reservation came back: give the stock back.
        (SagaInput::StockReserved, Cancelled) => Ok(SagaDecision {
            commands: vec![release()],
            ..SagaDecision::nothing()
        }),
        (SagaInput::StockReserved, _) => Ok(SagaDecision::nothing()),

        (
            SagaInput::StockInsufficient {
                product_id,
                requested,
                available,
            },
            Pending,
        ) => cancel(format!(
            "insufficient stock for {product_id}: requested {requested}, available {available}"
        )),
        (SagaInput::StockInsufficient { .. }, _) => Ok(SagaDecision::nothing()),

        (
            SagaInput::PaymentSucceeded {
                payment_id,
                amount_minor,
            },
            InventoryReserved,
        ) => Ok(SagaDecision {
            events: decide(
                Some(order),
                OrderCommand::ConfirmPayment {
                    payment_id,
                    amount_minor,
                    at,
                },
            )?,
            commands: vec![],
            deadline: Deadline::Clear,
        }),
        // The charge went through after the order was cancelled: refund it.
        (SagaInput::PaymentSucceeded { .. }, Cancelled) => Ok(SagaDecision {
            commands: vec![refund()],
            ..SagaDecision::nothing()
        }),
        (SagaInput::PaymentSucceeded { .. }, Paid | Completed) => Ok(SagaDecision::nothing()),
        (SagaInput::PaymentSucceeded { .. }, Pending) => Err(OrderError::IllegalTransition {
            from: Pending,
            action: "be paid before its stock is reserved",
        }),

        (SagaInput::PaymentFailed { reason }, InventoryReserved) => {
            cancel(format!("payment failed: {reason}"))
        }
        (SagaInput::PaymentFailed { .. }, _) => Ok(SagaDecision::nothing()),

        (SagaInput::DeadlineExpired(SagaStep::AwaitingStock), Pending) => {
            cancel("timed out waiting for the stock reservation".to_owned())
        }
        (SagaInput::DeadlineExpired(SagaStep::AwaitingPayment), InventoryReserved) => {
            cancel("timed out waiting for the payment".to_owned())
        }
        // A deadline for a step the order has already left.
        (SagaInput::DeadlineExpired(_), _) => Ok(SagaDecision {
            deadline: Deadline::Clear,
            ..SagaDecision::nothing()
        }),

        (SagaInput::CancelRequested, Cancelled) => Ok(SagaDecision::nothing()),
        (SagaInput::CancelRequested, _) => cancel("cancelled by the customer".to_owned()),
    }
}
