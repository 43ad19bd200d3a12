//! Properties of reading envelopes: whatever bytes or JSON arrive on a queue, reading them
//! never panics (it is an envelope and a message, or an error that parks the message), and
//! every message this crate writes reads back as itself.

use crate::arbitrary::json_value as json;
use proptest::prelude::*;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::value::{Email, OrderId, Quantity, Sku};
use crate::{
    Envelope, Message, PaymentFailed, PaymentSucceeded, ReserveStock, StockInsufficient, StockLine,
};

/// A message type: a known one most of the time.
fn message_type() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(Message::TYPES.iter().map(|(name, _)| *name).collect::<Vec<_>>())
            .prop_map(str::to_owned),
        1 => "[a-z._]{0,20}",
    ]
}

fn order_id() -> impl Strategy<Value = OrderId> {
    any::<u128>().prop_map(|id| OrderId::new(Uuid::from_u128(id)))
}

/// A valid message of a few kinds, with every field drawn.
fn message() -> impl Strategy<Value = Message> {
    let sku = "[a-z0-9_-]{1,64}".prop_map(|raw| Sku::parse(&raw).expect("a valid sku"));
    let quantity = (1..=Quantity::MAX).prop_map(|units| Quantity::new(units).expect("in range"));
    prop_oneof![
        (order_id(), any::<u128>(), any::<i64>()).prop_map(|(order_id, payment, amount)| {
            Message::from(PaymentSucceeded {
                order_id,
                payment_id: Uuid::from_u128(payment),
                amount_minor: amount,
            })
        }),
        (order_id(), ".{0,40}")
            .prop_map(|(order_id, reason)| Message::from(PaymentFailed { order_id, reason })),
        (order_id(), sku.clone(), any::<u32>(), any::<u32>()).prop_map(
            |(order_id, product_id, requested, available)| {
                Message::from(StockInsufficient {
                    order_id,
                    product_id,
                    requested,
                    available,
                })
            }
        ),
        (order_id(), prop::collection::vec((sku, quantity), 1..5)).prop_map(|(order_id, lines)| {
            let items = lines
                .into_iter()
                .map(|(product_id, quantity)| StockLine {
                    product_id,
                    quantity,
                })
                .collect();
            Message::from(ReserveStock { order_id, items })
        }),
    ]
}

proptest! {
    #[test]
    fn any_bytes_read_as_an_envelope_or_an_error_never_a_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..256)
    ) {
        if let Ok(envelope) = serde_json::from_slice::<Envelope>(&bytes) {
            let _ = envelope.decode();
        }
    }

    #[test]
    fn any_payload_under_any_type_and_version_decodes_or_is_an_error(
        message_type in message_type(),
        schema_version in 0..4_u32,
        payload in json(),
    ) {
        let decoded = Message::decode(&message_type, schema_version, payload);
        if let Ok(message) = decoded {
            prop_assert_eq!(message.message_type(), message_type.as_str());
        }
    }

    #[test]
    fn any_json_object_with_envelope_fields_reads_or_is_an_error(
        fields in prop::collection::btree_map(
            prop::sample::select(vec![
                "message_id", "type", "schema_version", "correlation_id", "causation_id",
                "occurred_at", "traceparent", "payload",
            ]),
            json(),
            0..8,
        )
    ) {
        let object = Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
        if let Ok(envelope) = serde_json::from_value::<Envelope>(object) {
            let _ = envelope.decode();
        }
    }

    #[test]
    fn a_message_written_in_an_envelope_reads_back_as_itself(
        message in message(),
        id in any::<u128>(),
        seconds in 0..4_000_000_000_i64,
    ) {
        let at = OffsetDateTime::from_unix_timestamp(seconds).expect("a time");
        let envelope = Envelope::build(Uuid::from_u128(id), &message).at(at);
        let bytes = serde_json::to_vec(&envelope).expect("serialize");
        let read: Envelope = serde_json::from_slice(&bytes).expect("read back");
        prop_assert_eq!(&read, &envelope);
        prop_assert_eq!(read.decode().expect("decode"), message);
    }

    #[test]
    fn an_email_that_parses_reads_back_as_itself(raw in ".{0,40}") {
        if let Ok(email) = Email::parse(&raw) {
            prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            prop_assert!(email.as_str().chars().all(|c| !c.is_control()));
        }
    }
}
