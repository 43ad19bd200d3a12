//! The Order aggregate: its state is a fold of its events.

use std::fmt;

use contracts::value::{Email, Money, MoneyError, OrderId, Quantity, Sku};
use contracts::{
    Compensation, Message, OrderCancelled, OrderCompleted, OrderInventoryReserved, OrderLine,
    OrderPaid, OrderPlaced,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::OrderError;

/// Where an order stands in its lifecycle. On the wire it is its name, e.g. `COMPLETED`, read
/// in any case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "&'static str")]
pub enum OrderStatus {
    Pending,
    InventoryReserved,
    Paid,
    Completed,
    Cancelled,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 5] = [
        OrderStatus::Pending,
        OrderStatus::InventoryReserved,
        OrderStatus::Paid,
        OrderStatus::Completed,
        OrderStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::InventoryReserved => "INVENTORY_RESERVED",
            OrderStatus::Paid => "PAID",
            OrderStatus::Completed => "COMPLETED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(raw: &str) -> Option<OrderStatus> {
        OrderStatus::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(raw))
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, OrderStatus::Completed | OrderStatus::Cancelled)
    }
}

impl TryFrom<String> for OrderStatus {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw).ok_or_else(|| format!("unknown status `{raw}`"))
    }
}

impl From<OrderStatus> for &'static str {
    fn from(status: OrderStatus) -> Self {
        status.as_str()
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated order line, priced from the catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PricedLine {
    pub sku: Sku,
    pub name: String,
    pub quantity: Quantity,
    pub unit_price: Money,
}

impl PricedLine {
    /// The unit price times the quantity.
    ///
    /// # Errors
    /// [`MoneyError::Overflow`] when it does not fit.
    pub fn total(&self) -> Result<Money, MoneyError> {
        self.unit_price.checked_mul(self.quantity.get())
    }
}

/// What can be asked of an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderCommand {
    /// Places an order in the currency its lines are priced in.
    Place {
        order_id: OrderId,
        customer_email: Email,
        lines: Vec<PricedLine>,
        /// The reference of the customer's payment token (never the token itself).
        payment_reference: String,
        at: OffsetDateTime,
    },
    ConfirmStock {
        at: OffsetDateTime,
    },
    ConfirmPayment {
        payment_id: Uuid,
        amount_minor: i64,
        at: OffsetDateTime,
    },
    Cancel {
        reason: String,
        at: OffsetDateTime,
    },
}

/// What happened to an order: exactly the `order.*` messages it publishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrderEvent {
    Placed(OrderPlaced),
    InventoryReserved(OrderInventoryReserved),
    Paid(OrderPaid),
    Completed(OrderCompleted),
    Cancelled(OrderCancelled),
}

impl From<OrderEvent> for Message {
    fn from(event: OrderEvent) -> Message {
        match event {
            OrderEvent::Placed(e) => e.into(),
            OrderEvent::InventoryReserved(e) => e.into(),
            OrderEvent::Paid(e) => e.into(),
            OrderEvent::Completed(e) => e.into(),
            OrderEvent::Cancelled(e) => e.into(),
        }
    }
}

impl TryFrom<Message> for OrderEvent {
    type Error = Message;
    fn try_from(message: Message) -> Result<OrderEvent, Message> {
        Ok(match message {
            Message::OrderPlaced(e) => OrderEvent::Placed(e),
            Message::OrderInventoryReserved(e) => OrderEvent::InventoryReserved(e),
            Message::OrderPaid(e) => OrderEvent::Paid(e),
            Message::OrderCompleted(e) => OrderEvent::Completed(e),
            Message::OrderCancelled(e) => OrderEvent::Cancelled(e),
            other => return Err(other),
        })
    }
}

/// The state of a placed order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub status: OrderStatus,
    pub customer_email: Email,
    pub items: Vec<OrderLine>,
    pub total: Money,
    /// The reference of the payment token; the token is kept apart until the charge.
    pub payment_reference: String,
    pub payment_id: Option<Uuid>,
    pub cancellation_reason: Option<String>,
    pub placed_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

impl Order {
    /// Whether stock is held for this order right now (and must be released on cancel).
    pub fn holds_stock(&self) -> bool {
        matches!(
            self.status,
            OrderStatus::InventoryReserved | OrderStatus::Paid
        )
    }
}

/// Decides which events a command produces; `None` is an order not yet placed.
///
/// # Errors
/// [`OrderError`] when the command is not allowed in the order's state.
pub fn decide(state: Option<&Order>, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
    let Some(order) = state else {
        return match command {
            OrderCommand::Place {
                order_id,
                customer_email,
                lines,
                payment_reference,
                at,
            } => place(order_id, customer_email, lines, payment_reference, at),
            _ => Err(OrderError::NotPlaced),
        };
    };
    let illegal = |action| {
        Err(OrderError::IllegalTransition {
            from: order.status,
            action,
        })
    };
    match command {
        OrderCommand::Place { .. } => Err(OrderError::AlreadyPlaced),
        OrderCommand::ConfirmStock { at } => match order.status {
            OrderStatus::Pending => Ok(vec![OrderEvent::InventoryReserved(
                OrderInventoryReserved {
                    order_id: order.id,
                    reserved_at: at,
                },
            )]),
            _ => illegal("confirm a stock reservation"),
        },
        OrderCommand::ConfirmPayment {
            payment_id,
            amount_minor,
            at,
        } => match order.status {
            OrderStatus::InventoryReserved => Ok(vec![
                OrderEvent::Paid(OrderPaid {
                    order_id: order.id,
                    payment_id,
                    amount_minor,
                    paid_at: at,
                }),
                OrderEvent::Completed(OrderCompleted {
                    order_id: order.id,
                    customer_email: order.customer_email.clone(),
                    items: order.items.clone(),
                    total_minor: order.total.minor(),
                    currency: order.total.currency().to_owned(),
                    completed_at: at,
                }),
            ]),
            _ => illegal("record a payment"),
        },
        OrderCommand::Cancel { reason, at } => {
            let compensations = match order.status {
                OrderStatus::Pending => vec![],
                OrderStatus::InventoryReserved => vec![Compensation::ReleaseStock],
                OrderStatus::Paid => vec![Compensation::ReleaseStock, Compensation::RefundPayment],
                OrderStatus::Completed | OrderStatus::Cancelled => return illegal("be cancelled"),
            };
            Ok(vec![OrderEvent::Cancelled(OrderCancelled {
                order_id: order.id,
                customer_email: order.customer_email.clone(),
                reason,
                compensations,
                cancelled_at: at,
            })])
        }
    }
}

fn place(
    order_id: OrderId,
    customer_email: Email,
    lines: Vec<PricedLine>,
    payment_reference: String,
    at: OffsetDateTime,
) -> Result<Vec<OrderEvent>, OrderError> {
    let Some(first) = lines.first() else {
        return Err(OrderError::NoItems);
    };
    let nothing = Money::new(0, first.unit_price.currency());
    let total = lines.iter().try_fold(nothing, |total, line| {
        line.total()
            .and_then(|line_total| total.checked_add(&line_total))
    })?;
    let items: Vec<OrderLine> = lines
        .into_iter()
        .map(|line| OrderLine {
            product_id: line.sku,
            name: line.name,
            quantity: line.quantity,
            unit_price_minor: line.unit_price.minor(),
        })
        .collect();
    Ok(vec![OrderEvent::Placed(OrderPlaced {
        order_id,
        customer_email,
        items,
        total_minor: total.minor(),
        currency: total.currency().to_owned(),
        payment_reference,
        placed_at: at,
    })])
}

/// Applies one event to the state. Events are facts: they are applied, never rejected.
pub fn evolve(state: Option<Order>, event: &OrderEvent) -> Option<Order> {
    if let OrderEvent::Placed(placed) = event {
        return Some(Order {
            id: placed.order_id,
            status: OrderStatus::Pending,
            customer_email: placed.customer_email.clone(),
            items: placed.items.clone(),
            total: placed.total(),
            payment_reference: placed.payment_reference.clone(),
            payment_id: None,
            cancellation_reason: None,
            placed_at: placed.placed_at,
            updated_at: placed.placed_at,
        });
    }
    let mut order = state?;
    match event {
        OrderEvent::Placed(_) => unreachable!("handled above"),
        OrderEvent::InventoryReserved(e) => {
            order.status = OrderStatus::InventoryReserved;
            order.updated_at = e.reserved_at;
        }
        OrderEvent::Paid(e) => {
            order.status = OrderStatus::Paid;
            order.payment_id = Some(e.payment_id);
            order.updated_at = e.paid_at;
        }
        OrderEvent::Completed(e) => {
            order.status = OrderStatus::Completed;
            order.updated_at = e.completed_at;
        }
        OrderEvent::Cancelled(e) => {
            order.status = OrderStatus::Cancelled;
            order.cancellation_reason = Some(e.reason.clone());
            order.updated_at = e.cancelled_at;
        }
    }
    Some(order)
}

/// Folds a whole history into the current state.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a OrderEvent>) -> Option<Order> {
    events.into_iter().fold(None, evolve)
}
