//! Every command and event, with its type name and current schema version.
//!
//! A published type is never renamed and never changes meaning: a new shape gets a new
//! `schema_version` and an upcaster in [`crate::upcast`].

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::upcast::{self, DecodeError};
use crate::value::{Email, Money, OrderId, Quantity, Sku};

/// One line of an order as the order service priced it from its catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub product_id: Sku,
    pub name: String,
    pub quantity: Quantity,
    /// Unit price in minor units of the order's currency (cents).
    pub unit_price_minor: i64,
}

/// One line of a stock reservation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLine {
    pub product_id: Sku,
    pub quantity: Quantity,
}

/// A compensation the saga ran when it cancelled an order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compensation {
    ReleaseStock,
    RefundPayment,
}

/// `order.placed`, version 3: version 2 held the card's `payment_token` itself, which this
/// event (stored, published to every subscriber, shown by the audit API) must not; version 1
/// had no `currency` either (it was always USD).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    pub order_id: OrderId,
    pub customer_email: Email,
    pub items: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: String,
    /// Which payment token the customer gave, without giving it away:
    /// [`payment_reference`] of the order and the token.
    pub payment_reference: String,
    #[serde(with = "time::serde::rfc3339")]
    pub placed_at: OffsetDateTime,
}

/// The reference an order's event keeps for its payment token: a digest of the order id and
/// the token, so a token seen elsewhere can be matched to the order, but the reference does
/// not give the token back (one order's reference says nothing of another's).
pub fn payment_reference(order_id: OrderId, payment_token: &str) -> String {
    use sha2::{Digest as _, Sha256};
    let digest = Sha256::new()
        .chain_update(order_id.as_uuid().as_bytes())
        .chain_update(payment_token.as_bytes())
        .finalize();
    let hex: String = digest
        .iter()
        .take(12)
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("sha256:{hex}")
}

impl OrderPlaced {
    /// The order's total, in its currency.
    pub fn total(&self) -> Money {
        Money::new(self.total_minor, self.currency.clone())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInventoryReserved {
    pub order_id: OrderId,
    #[serde(with = "time::serde::rfc3339")]
    pub reserved_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPaid {
    pub order_id: OrderId,
    pub payment_id: Uuid,
    pub amount_minor: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub paid_at: OffsetDateTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCompleted {
    pub order_id: OrderId,
    pub customer_email: Email,
    /// What was bought (since version 2; an upcast version 1 event has none).
    pub items: Vec<OrderLine>,
    pub total_minor: i64,
    pub currency: String,
    #[serde(with = "time::serde::rfc3339")]
    pub completed_at: OffsetDateTime,
}

impl OrderCompleted {
    /// The order's total, in its currency.
    pub fn total(&self) -> Money {
        Money::new(self.total_minor, self.currency.clone())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCancelled {
    pub order_id: OrderId,
    pub customer_email: Email,
    /// Why, in words a person can read.
    pub reason: String,
    /// The compensations the saga started.
    pub compensations: Vec<Compensation>,
    #[serde(with = "time::serde::rfc3339")]
    pub cancelled_at: OffsetDateTime,
}

/// Command to inventory: reserve every line of an order, or none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReserveStock {
    pub order_id: OrderId,
    pub items: Vec<StockLine>,
}

/// Command to inventory: release what an order reserved (compensation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseStock {
    pub order_id: OrderId,
}

/// Command to payment: charge an order once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargePayment {
    pub order_id: OrderId,
    pub amount_minor: i64,
    pub currency: String,
    pub payment_token: String,
}

impl ChargePayment {
    /// The amount to charge, in its currency.
    pub fn amount(&self) -> Money {
        Money::new(self.amount_minor, self.currency.clone())
    }
}

/// Command to payment: refund an order's captured payment (compensation).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundPayment {
    pub order_id: OrderId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReserved {
    pub order_id: OrderId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockInsufficient {
    pub order_id: OrderId,
    pub product_id: Sku,
    pub requested: u32,
    pub available: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockReleased {
    pub order_id: OrderId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentSucceeded {
    pub order_id: OrderId,
    pub payment_id: Uuid,
    pub amount_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentFailed {
    pub order_id: OrderId,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentRefunded {
    pub order_id: OrderId,
    pub payment_id: Uuid,
    pub amount_minor: i64,
}

macro_rules! messages {
    ($($variant:ident($payload:ty) = $name:literal v $version:literal;)*) => {
        /// Every message Orderflow publishes, decoded.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Message {
            $($variant($payload),)*
        }

        impl Message {
            /// All message types with their current schema versions.
            pub const TYPES: &'static [(&'static str, u32)] = &[$(($name, $version),)*];

            pub fn message_type(&self) -> &'static str {
                match self { $(Self::$variant(_) => $name,)* }
            }

            pub fn schema_version(&self) -> u32 {
                match self { $(Self::$variant(_) => $version,)* }
            }

            pub fn order_id(&self) -> OrderId {
                match self { $(Self::$variant(m) => m.order_id,)* }
            }

            pub(crate) fn payload(&self) -> serde_json::Value {
                let value = match self { $(Self::$variant(m) => serde_json::to_value(m),)* };
                value.expect("message payloads serialize to JSON")
            }

            pub(crate) fn decode(
                message_type: &str,
                schema_version: u32,
                payload: serde_json::Value,
            ) -> Result<Self, DecodeError> {
                match message_type {
                    $($name => {
                        let payload = upcast::to_current($name, schema_version, $version, payload)?;
                        serde_json::from_value(payload)
                            .map(Self::$variant)
                            .map_err(|source| DecodeError::Payload { message_type: $name, source })
                    })*
                    other => Err(DecodeError::UnknownType(other.to_owned())),
                }
            }
        }

        $(impl From<$payload> for Message {
            fn from(payload: $payload) -> Self { Self::$variant(payload) }
        })*
    };
}

messages! {
    OrderPlaced(OrderPlaced) = "order.placed" v 3;
    OrderInventoryReserved(OrderInventoryReserved) = "order.inventory_reserved" v 1;
    OrderPaid(OrderPaid) = "order.paid" v 1;
    OrderCompleted(OrderCompleted) = "order.completed" v 2;
    OrderCancelled(OrderCancelled) = "order.cancelled" v 1;
    ReserveStock(ReserveStock) = "inventory.reserve" v 1;
    ReleaseStock(ReleaseStock) = "inventory.release" v 1;
    StockReserved(StockReserved) = "inventory.reserved" v 1;
    StockInsufficient(StockInsufficient) = "inventory.insufficient" v 1;
    StockReleased(StockReleased) = "inventory.released" v 1;
    ChargePayment(ChargePayment) = "payment.charge" v 1;
    RefundPayment(RefundPayment) = "payment.refund" v 1;
    PaymentSucceeded(PaymentSucceeded) = "payment.succeeded" v 1;
    PaymentFailed(PaymentFailed) = "payment.failed" v 1;
    PaymentRefunded(PaymentRefunded) = "payment.refunded" v 1;
}
