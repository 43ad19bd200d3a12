//! Reading old schema versions: each upcaster lifts a payload one version up, so stored history
//! is never rewritten.

use serde_json::Value;

use crate::messages::payment_reference;
use crate::value::OrderId;

/// Why an envelope could not be read. Such a message is poison: retrying cannot help.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown message type `{0}`")]
    UnknownType(String),
    #[error(
        "`{message_type}` has schema version {found}, newer than the {current} this build reads"
    )]
    FutureVersion {
        message_type: &'static str,
        found: u32,
        current: u32,
    },
    #[error("`{message_type}` version {version} cannot be upcast: {reason}")]
    Upcast {
        message_type: &'static str,
        version: u32,
        reason: &'static str,
    },
    #[error("`{message_type}` payload does not match its schema")]
    Payload {
        message_type: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// Lifts `payload` from `version` to `current`, one step at a time.
pub(crate) fn to_current(
    message_type: &'static str,
    version: u32,
    current: u32,
    mut payload: Value,
) -> Result<Value, DecodeError> {
    if version > current {
        return Err(DecodeError::FutureVersion {
            message_type,
            found: version,
            current,
        });
    }
    for from in version..current {
        payload = upcast_one(message_type, from, payload)?;
    }
    Ok(payload)
}

/// The payload's fields; a payload that is not a JSON object cannot be upcast.
fn object(
    message_type: &'static str,
    version: u32,
    payload: Value,
) -> Result<serde_json::Map<String, Value>, DecodeError> {
    match payload {
        Value::Object(fields) => Ok(fields),
        _ => Err(DecodeError::Upcast {
            message_type,
            version,
            reason: "payload is not an object",
        }),
    }
}

fn upcast_one(message_type: &'static str, from: u32, payload: Value) -> Result<Value, DecodeError> {
    match (message_type, from) {
        // Version 1 predates multi-currency catalogs: every price was in US dollars.
        ("order.placed", 1) => {
            let mut fields = object(message_type, from, payload)?;
            fields
                .entry("currency")
                .or_insert_with(|| Value::from("USD"));
            Ok(Value::Object(fields))
        }
        // Version 2 held the payment token itself: keep only its reference.
        ("order.placed", 2) => {
            let mut fields = object(message_type, from, payload)?;
            let order_id = fields
                .get("order_id")
                .and_then(Value::as_str)
                .and_then(|raw| raw.parse::<OrderId>().ok());
            let token = fields.remove("payment_token");
            let (Some(order_id), Some(Value::String(token))) = (order_id, token) else {
                return Err(DecodeError::Upcast {
                    message_type,
                    version: from,
                    reason: "no order id or payment token",
                });
            };
            fields.insert(
                "payment_reference".to_owned(),
                Value::from(payment_reference(order_id, &token)),
            );
            Ok(Value::Object(fields))
        }
        // Version 1 did not carry the order's lines: an old completion lists none.
        ("order.completed", 1) => {
            let mut fields = object(message_type, from, payload)?;
            fields
                .entry("items")
                .or_insert_with(|| Value::Array(Vec::new()));
            Ok(Value::Object(fields))
        }
        _ => Err(DecodeError::Upcast {
            message_type,
            version: from,
            reason: "no upcaster for this version",
        }),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::value::{OrderId, Sku};
    use crate::{Envelope, Message};

    /// A version-1 `order.placed`, as the first release stored it.
    fn stored_v1_order_placed() -> Envelope {
        serde_json::from_value(json!({
            "message_id": "0190b5a4-7c2e-7d3a-9f00-000000000001",
            "type": "order.placed",
            "schema_version": 1,
            "correlation_id": "0190b5a4-7c2e-7d3a-9f00-00000000aaaa",
            "causation_id": null,
            "occurred_at": "2026-01-02T03:04:05Z",
            "traceparent": null,
            "payload": {
                "order_id": "0190b5a4-7c2e-7d3a-9f00-00000000aaaa",
                "customer_email": "ada@example.com",
                "items": [{"product_id": "product-002", "name": "Mouse", "quantity": 2, "unit_price_minor": 2599}],
                "total_minor": 5198,
                "payment_token": "tok_visa",
                "placed_at": "2026-01-02T03:04:05Z"
            }
        }))
        .expect("a stored v1 envelope")
    }

    #[test]
    fn a_stored_version_1_order_placed_reads_back_in_us_dollars() {
        let Message::OrderPlaced(placed) = stored_v1_order_placed().decode().expect("upcast")
        else {
            panic!("decoded to another message type");
        };
        assert_eq!(placed.currency, "USD");
        assert_eq!(placed.total_minor, 5198);
        assert_eq!(placed.items[0].product_id.as_str(), "product-002");
    }

    #[test]
    fn a_stored_version_1_order_completed_reads_back_with_no_lines() {
        let envelope: Envelope = serde_json::from_value(json!({
            "message_id": "0190b5a4-7c2e-7d3a-9f00-000000000002",
            "type": "order.completed",
            "schema_version": 1,
            "correlation_id": "0190b5a4-7c2e-7d3a-9f00-00000000aaaa",
            "causation_id": null,
            "occurred_at": "2026-01-02T03:04:06Z",
            "traceparent": null,
            "payload": {
                "order_id": "0190b5a4-7c2e-7d3a-9f00-00000000aaaa",
                "customer_email": "ada@example.com",
                "total_minor": 5198,
                "currency": "USD",
                "completed_at": "2026-01-02T03:04:06Z"
            }
        }))
        .expect("a stored v1 envelope");
        let Message::OrderCompleted(completed) = envelope.decode().expect("upcast") else {
            panic!("decoded to another message type");
        };
        assert!(completed.items.is_empty());
        assert_eq!(completed.total_minor, 5198);
    }

    #[test]
    fn a_version_2_order_placed_keeps_its_currency() {
        let mut envelope = stored_v1_order_placed();
        envelope.schema_version = 2;
        envelope.payload["currency"] = json!("EUR");
        let Message::OrderPlaced(placed) = envelope.decode().expect("decode") else {
            panic!("decoded to another message type");
        };
        assert_eq!(placed.currency, "EUR");
    }

    #[test]
    fn a_stored_version_2_order_placed_reads_back_with_a_reference_and_without_its_token() {
        let mut envelope = stored_v1_order_placed();
        envelope.schema_version = 2;
        envelope.payload["currency"] = json!("USD");
        let message = envelope.decode().expect("upcast");
        let Message::OrderPlaced(placed) = &message else {
            panic!("decoded to another message type");
        };
        let order_id: OrderId = "0190b5a4-7c2e-7d3a-9f00-00000000aaaa"
            .parse()
            .expect("an id");
        assert_eq!(
            placed.payment_reference,
            crate::payment_reference(order_id, "tok_visa")
        );
        let shown = serde_json::to_string(&message.payload()).expect("json");
        assert!(!shown.contains("tok_visa"), "{shown}");
    }

    #[test]
    fn a_payment_reference_does_not_hold_the_token_and_differs_per_order() {
        let one: OrderId = "0190b5a4-7c2e-7d3a-9f00-00000000aaaa"
            .parse()
            .expect("an id");
        let other: OrderId = "0190b5a4-7c2e-7d3a-9f00-00000000bbbb"
            .parse()
            .expect("an id");
        let reference = crate::payment_reference(one, "tok_visa");
        assert!(reference.starts_with("sha256:"), "{reference}");
        assert!(!reference.contains("visa"), "{reference}");
        assert_eq!(reference, crate::payment_reference(one, "tok_visa"));
        assert_ne!(reference, crate::payment_reference(other, "tok_visa"));
        assert_ne!(
            reference,
            crate::payment_reference(one, "tok_chargeDeclined")
        );
    }

    #[test]
    fn a_decoded_payload_is_written_back_exactly_as_it_was_stored() {
        let mut envelope = stored_v1_order_placed();
        envelope.schema_version = 3;
        envelope.payload["currency"] = json!("EUR");
        let token = envelope
            .payload
            .as_object_mut()
            .expect("an object")
            .remove("payment_token");
        assert_eq!(token, Some(json!("tok_visa")));
        envelope.payload["payment_reference"] = json!("sha256:0123456789abcdef01234567");
        let message = envelope.decode().expect("decode");
        assert_eq!(message.payload(), envelope.payload);
        assert_eq!(message.order_id().as_uuid(), envelope.correlation_id);
    }

    #[test]
    fn a_payload_holding_an_invalid_value_is_not_decoded() {
        for (field, invalid) in [
            ("/order_id", json!("order-1")),
            ("/customer_email", json!("ada")),
            ("/items/0/product_id", json!("product 002")),
            ("/items/0/quantity", json!(0)),
        ] {
            let mut envelope = stored_v1_order_placed();
            *envelope.payload.pointer_mut(field).expect("the field") = invalid;
            let error = envelope.decode().expect_err("an invalid line");
            assert!(error.to_string().contains("order.placed"), "{error}");
        }
    }

    #[test]
    fn a_version_newer_than_this_build_is_rejected_not_guessed() {
        let mut envelope = stored_v1_order_placed();
        envelope.schema_version = 4;
        let error = envelope.decode().expect_err("future version");
        assert!(error.to_string().contains("newer"), "{error}");
    }

    #[test]
    fn an_unknown_type_is_a_decode_error() {
        let mut envelope = stored_v1_order_placed();
        envelope.message_type = "order.teleported".into();
        assert!(envelope.decode().is_err());
    }

    #[test]
    fn every_message_round_trips_through_its_envelope() {
        let order_id = OrderId::new(uuid::Uuid::now_v7());
        let message = Message::from(crate::StockInsufficient {
            order_id,
            product_id: Sku::parse("product-001").expect("a valid sku"),
            requested: 1000,
            available: 100,
        });
        let envelope =
            Envelope::build(uuid::Uuid::now_v7(), &message).at(time::OffsetDateTime::UNIX_EPOCH);
        assert_eq!(envelope.message_type, "inventory.insufficient");
        assert_eq!(envelope.correlation_id, order_id.as_uuid());
        assert_eq!(envelope.decode().expect("decode"), message);
    }
}
