//! The order view, and the pure fold that builds it from an order's events.
//!
//! Events may arrive out of order or twice; the fold drops repeats of a message and sorts the
//! rest by their place in the order's lifecycle (which is a chain: placed, reserved, paid, then
//! completed or cancelled), so the same set of events always yields the same view. A rebuild is
//! the same fold.
//!
//! It also owns the [`Cursor`], the position of a view in the newest-first listing.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use contracts::value::{OrderId, format_minor};
use contracts::{Envelope, Message};
use order_domain::{OrderEvent, OrderStatus};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// An order as the read API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderView {
    pub order_id: Uuid,
    /// PENDING, INVENTORY_RESERVED, PAID, COMPLETED or CANCELLED.
    pub status: String,
    pub customer_email: String,
    pub items: Vec<OrderViewItem>,
    /// Decimal with two places, e.g. `129.95`.
    pub total: String,
    pub total_minor: i64,
    pub currency: String,
    /// Why the order was cancelled, in words a person can read.
    pub cancellation_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: OffsetDateTime,
    /// The saga's steps, oldest first.
    pub history: Vec<SagaHistoryEntry>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderViewItem {
    pub product_id: String,
    pub name: String,
    pub quantity: u32,
    pub unit_price: String,
    pub line_total: String,
}

/// One step of the saga as it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SagaHistoryEntry {
    /// The event that marks the step, e.g. `order.inventory_reserved`.
    pub step: String,
    /// The order's status after the step.
    pub status: String,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
    pub detail: Option<String>,
}

/// Place of an event in the lifecycle chain.
fn rank(event: &OrderEvent) -> u8 {
    match event {
        OrderEvent::Placed(_) => 0,
        OrderEvent::InventoryReserved(_) => 1,
        OrderEvent::Paid(_) => 2,
        OrderEvent::Completed(_) | OrderEvent::Cancelled(_) => 3,
    }
}

/// Folds an order's events into its view; `None` until its `order.placed` is among them.
///
/// The order of `envelopes` does not matter, and a message given twice counts once. Messages
/// that are not order events are skipped.
///
/// # Errors
/// The first envelope that cannot be decoded (an unknown type, a future schema version, a
/// payload that does not match its schema).
pub fn project(envelopes: &[Envelope]) -> Result<Option<OrderView>, contracts::DecodeError> {
    let mut seen = HashSet::with_capacity(envelopes.len());
    let mut events = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        if !seen.insert(envelope.message_id) {
            continue;
        }
        if let Ok(event) = OrderEvent::try_from(envelope.decode()?) {
            events.push((rank(&event), envelope.message_id, event));
        }
    }
    // The message id breaks ties, so even events the aggregate would never emit together
    // (completed and cancelled) fold the same way whatever order they came in.
    events.sort_by_key(|(rank, message_id, _)| (*rank, *message_id));
    let mut view: Option<OrderView> = None;
    for (_, _, event) in &events {
        view = apply(view, event);
    }
    Ok(view)
}

fn apply(view: Option<OrderView>, event: &OrderEvent) -> Option<OrderView> {
    if let OrderEvent::Placed(placed) = event {
        let items = placed
            .items
            .iter()
            .map(|line| OrderViewItem {
                product_id: line.product_id.to_string(),
                name: line.name.clone(),
                quantity: line.quantity.get(),
                unit_price: format_minor(line.unit_price_minor),
                line_total: format_minor(
                    line.unit_price_minor
                        .saturating_mul(i64::from(line.quantity.get())),
                ),
            })
            .collect();
        return Some(OrderView {
            order_id: placed.order_id.as_uuid(),
            status: OrderStatus::Pending.as_str().to_owned(),
            customer_email: placed.customer_email.to_string(),
            items,
            total: format_minor(placed.total_minor),
            total_minor: placed.total_minor,
            currency: placed.currency.clone(),
            cancellation_reason: None,
            created_at: placed.placed_at,
            updated_at: placed.placed_at,
            history: vec![entry(
                Message::from(placed.clone()).message_type(),
                OrderStatus::Pending,
                placed.placed_at,
                None,
            )],
        });
    }
    let mut view = view?;
    let (status, at, detail) = match event {
        OrderEvent::Placed(_) => return Some(view),
        OrderEvent::InventoryReserved(e) => (OrderStatus::InventoryReserved, e.reserved_at, None),
        OrderEvent::Paid(e) => (
            OrderStatus::Paid,
            e.paid_at,
            Some(format!("charged {}", format_minor(e.amount_minor))),
        ),
        OrderEvent::Completed(e) => (OrderStatus::Completed, e.completed_at, None),
        OrderEvent::Cancelled(e) => {
            view.cancellation_reason = Some(e.reason.clone());
            let compensations: Vec<_> = e
                .compensations
                .iter()
                .map(|c| match c {
                    contracts::Compensation::ReleaseStock => "release stock",
                    contracts::Compensation::RefundPayment => "refund payment",
                })
                .collect();
            let detail = if compensations.is_empty() {
                e.reason.clone()
            } else {
                format!("{}; compensations: {}", e.reason, compensations.join(", "))
            };
            (OrderStatus::Cancelled, e.cancelled_at, Some(detail))
        }
    };
    let step = Message::from(event.clone()).message_type();
    view.status = status.as_str().to_owned();
    view.updated_at = at;
    view.history.push(entry(step, status, at, detail));
    Some(view)
}

fn entry(
    step: &str,
    status: OrderStatus,
    at: OffsetDateTime,
    detail: Option<String>,
) -> SagaHistoryEntry {
    SagaHistoryEntry {
        step: step.to_owned(),
        status: status.as_str().to_owned(),
        at,
        detail,
    }
}

/// A view's position in the newest-first listing: its creation time in unix milliseconds, then
/// its order id. Clients see it as an opaque string (`<ms>_<order id>`) and hand it back to get
/// the orders after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    pub created_at_ms: i64,
    pub order_id: OrderId,
}

impl Cursor {
    /// The position of `view`; the read model sorts and pages by it.
    pub fn at(view: &OrderView) -> Self {
        let millis = view.created_at.unix_timestamp_nanos().div_euclid(1_000_000);
        Self {
            created_at_ms: i64::try_from(millis).unwrap_or(i64::MAX),
            order_id: OrderId::new(view.order_id),
        }
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_{}", self.created_at_ms, self.order_id)
    }
}

/// A cursor that this API did not issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed cursor: pass the `next_cursor` of a previous page unchanged")]
pub struct InvalidCursor;

impl FromStr for Cursor {
    type Err = InvalidCursor;

    fn from_str(raw: &str) -> Result<Self, InvalidCursor> {
        let (millis, order_id) = raw.split_once('_').ok_or(InvalidCursor)?;
        Ok(Self {
            created_at_ms: millis.parse().map_err(|_| InvalidCursor)?,
            order_id: order_id.parse().map_err(|_| InvalidCursor)?,
        })
    }
}
