//! `GET /api/v1/order-updates`: a server-sent stream of order status changes, one `update`
//! event per change, so a client learns that an order has ended without polling for it.

use order_domain::OrderStatus;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The SSE event name of an [`OrderUpdate`].
pub const UPDATE_EVENT: &str = "update";
/// The SSE event name that says this subscriber fell behind: its data is how many updates
/// were skipped. The stream goes on after it; a client that must know every order's end
/// reads the orders it still waits for with `GET /api/v1/orders/{id}`.
pub const LAGGED_EVENT: &str = "lagged";

/// One change of an order's status, after the change was committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OrderUpdate {
    pub order_id: Uuid,
    /// `PENDING` when the order is placed, then each status it reaches.
    #[schema(value_type = String, example = "COMPLETED")]
    pub status: OrderStatus,
    /// When the order was placed.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub placed_at: OffsetDateTime,
    /// When it reached `status`.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: OffsetDateTime,
}

/// What a subscriber of the stream receives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UpdateNotice {
    Update(OrderUpdate),
    /// This many updates were skipped because the subscriber fell behind.
    Lagged(u64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_reads_back_as_it_was_written() {
        let update = OrderUpdate {
            order_id: Uuid::nil(),
            status: OrderStatus::Completed,
            placed_at: OffsetDateTime::UNIX_EPOCH,
            at: OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(1),
        };
        let text = serde_json::to_string(&update).expect("serializes");
        assert!(text.contains("\"status\":\"COMPLETED\""), "{text}");
        let back: OrderUpdate = serde_json::from_str(&text).expect("deserializes");
        assert_eq!(back, update);
    }
}
