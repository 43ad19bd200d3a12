//! Who consumes what: one queue per consuming service. The embedded queue and the RabbitMQ
//! bindings are both derived from this table.

use serde::{Deserialize, Serialize};

/// A consuming service's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Queue {
    Order,
    Inventory,
    Payment,
    Notification,
    Query,
    /// The analytics stream (embedded: a queue like the others; scaled out: a RabbitMQ queue
    /// for now, a Kafka-protocol topic in issue 9's remaining work).
    Analytics,
}

impl Queue {
    /// Every queue; the analytics stream last, so a publisher that writes to each in turn
    /// has delivered the saga's messages before it writes the stream's.
    pub const ALL: [Queue; 6] = [
        Queue::Order,
        Queue::Inventory,
        Queue::Payment,
        Queue::Notification,
        Queue::Query,
        Queue::Analytics,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Queue::Order => "order",
            Queue::Inventory => "inventory",
            Queue::Payment => "payment",
            Queue::Notification => "notification",
            Queue::Query => "query",
            Queue::Analytics => "analytics",
        }
    }

    pub fn from_name(name: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|queue| queue.name() == name)
    }
}

/// The queues a message of `message_type` is delivered to; empty for an unknown type.
///
/// Every event (`order.*`, and the inventory and payment services' replies) also goes to the
/// analytics stream. Commands do not: they are requests inside the saga whose outcome the
/// replies and order events already carry, and `payment.charge` holds the customer's payment
/// token, which must not be kept or archived anywhere else.
pub fn subscribers(message_type: &str) -> &'static [Queue] {
    match message_type {
        "order.placed" | "order.inventory_reserved" | "order.paid" => {
            &[Queue::Query, Queue::Analytics]
        }
        "order.completed" => &[
            Queue::Inventory,
            Queue::Notification,
            Queue::Query,
            Queue::Analytics,
        ],
        "order.cancelled" => &[Queue::Notification, Queue::Query, Queue::Analytics],
        "inventory.reserve" | "inventory.release" => &[Queue::Inventory],
        "payment.charge" | "payment.refund" => &[Queue::Payment],
        "inventory.reserved" | "inventory.insufficient" | "inventory.released" => {
            &[Queue::Order, Queue::Analytics]
        }
        "payment.succeeded" | "payment.failed" | "payment.refunded" => {
            &[Queue::Order, Queue::Analytics]
        }
        _ => &[],
    }
}

/// Whether `message_type` is an event the analytics stream carries.
pub fn is_streamed(message_type: &str) -> bool {
    subscribers(message_type).contains(&Queue::Analytics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Message;

    #[test]
    fn every_message_type_has_at_least_one_subscriber() {
        for (message_type, _) in Message::TYPES {
            assert!(
                !subscribers(message_type).is_empty(),
                "{message_type} reaches no queue"
            );
        }
    }

    #[test]
    fn every_event_and_no_command_reaches_the_analytics_stream() {
        let streamed: Vec<&str> = Message::TYPES
            .iter()
            .map(|(message_type, _)| *message_type)
            .filter(|message_type| is_streamed(message_type))
            .collect();
        assert_eq!(
            streamed,
            [
                "order.placed",
                "order.inventory_reserved",
                "order.paid",
                "order.completed",
                "order.cancelled",
                "inventory.reserved",
                "inventory.insufficient",
                "inventory.released",
                "payment.succeeded",
                "payment.failed",
                "payment.refunded",
            ]
        );
    }
}
