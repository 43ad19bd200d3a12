//! An envelope as a Kafka record: keyed by its order (the correlation id), the JSON envelope
//! as value, `traceparent`, message id and type as headers.

use contracts::Envelope;
use rdkafka::message::{Header, OwnedHeaders};

/// The W3C trace context of the envelope, for tools that read headers only.
pub(crate) const TRACEPARENT: &str = "traceparent";
pub(crate) const MESSAGE_ID: &str = "message-id";
pub(crate) const MESSAGE_TYPE: &str = "message-type";

/// Key, value and headers of `envelope`'s record.
///
/// # Errors
/// When the envelope cannot be written as JSON (its payload holds a map with non-string keys).
pub(crate) fn encode(envelope: &Envelope) -> serde_json::Result<(String, Vec<u8>, OwnedHeaders)> {
    let value = serde_json::to_vec(envelope)?;
    let message_id = envelope.message_id.to_string();
    let mut headers = OwnedHeaders::new()
        .insert(Header {
            key: MESSAGE_ID,
            value: Some(message_id.as_str()),
        })
        .insert(Header {
            key: MESSAGE_TYPE,
            value: Some(envelope.message_type.as_str()),
        });
    if let Some(traceparent) = &envelope.traceparent {
        headers = headers.insert(Header {
            key: TRACEPARENT,
            value: Some(traceparent.as_str()),
        });
    }
    Ok((envelope.correlation_id.to_string(), value, headers))
}

#[cfg(test)]
mod tests {
    use rdkafka::message::Headers as _;

    use super::*;

    #[test]
    fn a_record_is_keyed_by_its_order_and_carries_the_envelope_and_its_trace() {
        let envelope: Envelope = serde_json::from_value(serde_json::json!({
            "message_id": "0190a0f0-0000-7000-8000-000000000001",
            "type": "order.placed",
            "schema_version": 3,
            "correlation_id": "0190a0f0-0000-7000-8000-0000000000aa",
            "causation_id": null,
            "occurred_at": "2026-12-03T07:00:00Z",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "payload": {"any": "thing"}
        }))
        .expect("an envelope");
        let (key, value, headers) = encode(&envelope).expect("encoded");
        assert_eq!(key, "0190a0f0-0000-7000-8000-0000000000aa");
        let back: Envelope = serde_json::from_slice(&value).expect("the value is the envelope");
        assert_eq!(back, envelope);
        let traceparent = headers
            .iter()
            .find(|header| header.key == TRACEPARENT)
            .and_then(|header| header.value)
            .expect("traceparent header");
        assert_eq!(
            traceparent,
            b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
    }
}
