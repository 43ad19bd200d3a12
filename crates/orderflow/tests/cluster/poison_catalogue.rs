//! Poison of every shape for every consuming queue: messages that fail by their own fault, so
//! each must end in its queue's dead letters with its error, and nothing else may.
//!
//! Shapes: a body that is not an envelope; an envelope of a type nobody knows; a known type in
//! a schema version newer than this build reads; a payload that does not match its type's
//! schema; and a well-formed message its consumer refuses (a reply about an order that does
//! not exist, a command or event the service does not consume, an event whose payload names
//! another order than its envelope).

use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{
    ChargePayment, Envelope, Message, OrderCompleted, OrderInventoryReserved, Queue, ReleaseStock,
    ReserveStock, StockLine, StockReserved,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use transport_amqp::testing::RawMessage;
use uuid::Uuid;

/// One poison message, where it goes and what its dead letter must say.
#[derive(Clone, Debug)]
pub(crate) struct Poison {
    pub(crate) queue: Queue,
    pub(crate) shape: &'static str,
    pub(crate) message_id: Uuid,
    body: Vec<u8>,
    message_type: Option<String>,
    /// A part of the error the dead letter must carry.
    pub(crate) error: String,
    /// Attempts it is parked after: at once when it is not even an envelope.
    pub(crate) attempts: u32,
}

impl Poison {
    /// The message as published, straight to the queue named `queue_name`.
    pub(crate) fn raw(&self, queue_name: String) -> RawMessage {
        RawMessage {
            queue_name,
            body: self.body.clone(),
            message_id: self.message_id.to_string(),
            message_type: self.message_type.clone(),
        }
    }
}

fn envelope(message: impl Into<Message>) -> Value {
    let envelope = Envelope::build(Uuid::now_v7(), &message.into()).at(OffsetDateTime::now_utc());
    serde_json::to_value(envelope).expect("envelope as json")
}

fn poison(queue: Queue, shape: &'static str, body: Value, error: &str) -> Poison {
    Poison {
        queue,
        shape,
        message_id: body["message_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("message id"),
        message_type: body["type"].as_str().map(str::to_owned),
        body: serde_json::to_vec(&body).expect("body"),
        error: error.to_owned(),
        attempts: 3,
    }
}

fn not_an_envelope(queue: Queue, body: &[u8]) -> Poison {
    Poison {
        queue,
        shape: "not an envelope",
        message_id: Uuid::now_v7(),
        body: body.to_vec(),
        message_type: None,
        error: "cannot decode the envelope".to_owned(),
        attempts: 1,
    }
}

fn unknown_type(queue: Queue, message_type: &str) -> Poison {
    let mut body = envelope(StockReserved {
        order_id: OrderId::new(Uuid::now_v7()),
    });
    body["type"] = json!(message_type);
    poison(
        queue,
        "unknown type",
        body,
        &format!("unknown message type `{message_type}`"),
    )
}

fn future_version(queue: Queue, mut body: Value, version: u32) -> Poison {
    body["schema_version"] = json!(version);
    poison(
        queue,
        "future schema version",
        body,
        &format!("schema version {version}, newer than"),
    )
}

fn bad_payload(queue: Queue, mut body: Value, payload: Value) -> Poison {
    body["payload"] = payload;
    let error = format!(
        "`{}` payload does not match its schema",
        body["type"].as_str().unwrap_or("")
    );
    poison(queue, "payload not matching its schema", body, &error)
}

fn refused(queue: Queue, body: Value, error: &str) -> Poison {
    poison(queue, "refused by its handler", body, error)
}

/// A well-formed message of each kind each queue takes.
fn typical(queue: Queue) -> Value {
    let order_id = OrderId::new(Uuid::now_v7());
    match queue {
        Queue::Order => envelope(StockReserved { order_id }),
        Queue::Inventory => envelope(ReserveStock {
            order_id,
            items: vec![StockLine {
                product_id: Sku::parse("product-002").expect("a sku"),
                quantity: Quantity::new(1).expect("a quantity"),
            }],
        }),
        Queue::Payment => envelope(ChargePayment {
            order_id,
            amount_minor: 2_599,
            currency: "USD".into(),
            payment_token: "tok_visa".into(),
        }),
        Queue::Notification => envelope(OrderCompleted {
            order_id,
            customer_email: Email::parse("poison@example.com").expect("an email"),
            items: Vec::new(),
            total_minor: 2_599,
            currency: "USD".into(),
            completed_at: OffsetDateTime::now_utc(),
        }),
        Queue::Query => envelope(OrderInventoryReserved {
            order_id,
            reserved_at: OffsetDateTime::now_utc(),
        }),
        Queue::Analytics => envelope(StockReserved { order_id }),
    }
}

/// Two well-formed messages the consumer of `queue` refuses, with what it says.
fn refusals(queue: Queue) -> [(Value, String); 2] {
    let not_its_own = |message: Value, service: &str| {
        let error = format!(
            "the {service} service does not consume {}",
            message["type"].as_str().unwrap_or("")
        );
        (message, error)
    };
    match queue {
        // A reply about an order nobody placed.
        Queue::Order => [(), ()].map(|()| {
            let reply = envelope(StockReserved {
                order_id: OrderId::new(Uuid::now_v7()),
            });
            let error = format!(
                "order {} does not exist",
                reply["correlation_id"].as_str().unwrap_or("")
            );
            (reply, error)
        }),
        Queue::Inventory => [
            not_its_own(typical(Queue::Payment), "inventory"),
            not_its_own(
                envelope(StockReserved {
                    order_id: OrderId::new(Uuid::now_v7()),
                }),
                "inventory",
            ),
        ],
        Queue::Payment => [
            not_its_own(typical(Queue::Inventory), "payment"),
            not_its_own(
                envelope(ReleaseStock {
                    order_id: OrderId::new(Uuid::now_v7()),
                }),
                "payment",
            ),
        ],
        Queue::Notification => [
            not_its_own(typical(Queue::Inventory), "notification"),
            not_its_own(typical(Queue::Payment), "notification"),
        ],
        // An event whose envelope and payload name different orders.
        Queue::Query => [(), ()].map(|()| {
            let mut event = typical(Queue::Query);
            event["correlation_id"] = json!(OrderId::new(Uuid::now_v7()));
            (event, "does not match the payload's order id".to_owned())
        }),
        Queue::Analytics => [(), ()].map(|()| {
            let mut event = typical(Queue::Analytics);
            event["correlation_id"] = json!(OrderId::new(Uuid::now_v7()));
            (event, "does not match the payload's order id".to_owned())
        }),
    }
}

/// Ten poison messages for each consuming queue, two of each shape: sixty in all.
pub(crate) fn every_shape_on_every_queue() -> Vec<Poison> {
    let mut all = Vec::new();
    for queue in Queue::ALL {
        all.push(not_an_envelope(queue, b"this is not json"));
        all.push(not_an_envelope(queue, br#"{"hello": "world"}"#));
        all.push(unknown_type(queue, "order.teleported"));
        all.push(unknown_type(queue, "shipment.dispatched"));
        all.push(future_version(queue, typical(queue), 99));
        all.push(future_version(queue, typical(queue), 7));
        all.push(bad_payload(queue, typical(queue), json!({})));
        all.push(bad_payload(
            queue,
            typical(queue),
            json!({"order_id": "not a uuid"}),
        ));
        for (message, error) in refusals(queue) {
            all.push(refused(queue, message, &error));
        }
    }
    all
}
