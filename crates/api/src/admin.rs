//! `/api/v1/admin`: stock levels and adjustments, the mailbox, dead letters and the read
//! model's rebuild. These are the answers as they travel; the ports' own types (the store's
//! notification, the transport's dead letter) are turned into them at the edge.

use contracts::{Envelope, Queue};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// A product's stock in full.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockView {
    pub product_id: String,
    pub available: u32,
    pub reserved: u32,
    pub sold: u32,
    pub initial: u32,
    pub restocked: i64,
}

/// The most units one stock adjustment may add or remove.
pub const MAX_STOCK_ADJUSTMENT: i64 = 1_000_000;

// The body of `POST /api/v1/admin/products/{id}/stock`. (A `//` comment: a doc comment would
// become the schema's description in the OpenAPI document.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockAdjustment {
    /// Units to add; negative to remove; not zero.
    #[schema(minimum = -1_000_000, maximum = 1_000_000)]
    pub delta: i64,
}

/// Notifications listed when a client asks for no `limit`.
pub const DEFAULT_NOTIFICATIONS: usize = 100;
/// The most notifications one call lists.
pub const MAX_NOTIFICATIONS: usize = 1000;

/// The query of `GET /api/v1/admin/notifications`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Only this order's notifications.
    pub order_id: Option<Uuid>,
    /// How many, newest first: 100 by default, at most 1000.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// An email as sent to a customer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub order_id: Uuid,
    /// The message that caused it; one notification per message.
    pub message_id: Uuid,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
}

/// A parked message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Stable id for replay and discard: `<queue>:<number>`.
    pub id: String,
    pub queue: Queue,
    pub envelope: Envelope,
    pub error: String,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub dead_lettered_at: OffsetDateTime,
}

/// The answer to replaying a dead letter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetterReplayed {
    pub id: String,
    pub replayed: bool,
}

/// The answer to rebuilding the read model: how many order views were written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectionRebuilt {
    pub rebuilt: usize,
}

#[cfg(test)]
mod tests {
    use utoipa::{IntoParams as _, PartialSchema as _};

    use super::*;

    #[test]
    fn the_documented_bounds_are_the_enforced_ones() {
        let adjustment = serde_json::to_value(StockAdjustment::schema()).expect("serialize");
        let delta = &adjustment["properties"]["delta"];
        assert_eq!(delta["minimum"], -MAX_STOCK_ADJUSTMENT);
        assert_eq!(delta["maximum"], MAX_STOCK_ADJUSTMENT);
        let params =
            serde_json::to_value(NotificationQuery::into_params(|| None)).expect("serialize");
        assert_eq!(params[1]["name"], "limit");
        assert_eq!(params[1]["schema"]["maximum"], MAX_NOTIFICATIONS);
    }
}
