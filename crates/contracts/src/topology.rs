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
}

impl Queue {
    pub const ALL: [Queue; 5] = [
        Queue::Order,
        Queue::Inventory,
        Queue::Payment,
        Queue::Notification,
        Queue::Query,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Queue::Order => "order",
            Queue::Inventory => "inventory",
            Queue::Payment => "payment",
            Queue::Notification => "notification",
            Queue::Query => "query",
        }
    }

    pub fn from_name(name: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|queue| queue.name() == name)
    }
}

/// The queues a message of `message_type` is delivered to; empty for an unknown type.
pub fn subscribers(message_type: &str) -> &'static [Queue] {
    match message_type {
        "order.placed" | "order.inventory_reserved" | "order.paid" => &[Queue::Query],
        "order.completed" => &[Queue::Inventory, Queue::Notification, Queue::Query],
        "order.cancelled" => &[Queue::Notification, Queue::Query],
        "inventory.reserve" | "inventory.release" => &[Queue::Inventory],
        "payment.charge" | "payment.refund" => &[Queue::Payment],
        "inventory.reserved" | "inventory.insufficient" | "inventory.released" => &[Queue::Order],
        "payment.succeeded" | "payment.failed" | "payment.refunded" => &[Queue::Order],
        _ => &[],
    }
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
}
