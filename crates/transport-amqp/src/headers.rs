//! The message properties and headers the transport writes and reads.
//!
//! The application counts attempts itself, in `x-orderflow-attempts`, so that the broker's own
//! delivery count (which a consumer crash raises for a whole prefetch window) never decides
//! whether a message is poison. Broker headers (`x-death`, `x-delivery-count`) are dropped
//! whenever a message is copied, so each copy starts clean.

use std::collections::BTreeMap;

use contracts::Envelope;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};

/// Failed attempts charged to the message (outages are not charged).
pub(crate) const ATTEMPTS: &str = "x-orderflow-attempts";
/// Times the message went through a retry tier, for any reason.
pub(crate) const DELIVERIES: &str = "x-orderflow-deliveries";
/// The error of the last failed attempt.
pub(crate) const LAST_ERROR: &str = "x-orderflow-last-error";
/// Why the message was parked.
pub(crate) const ERROR: &str = "x-orderflow-error";
/// When the message was parked, in unix milliseconds.
pub(crate) const DEAD_LETTERED_AT: &str = "x-orderflow-dead-lettered-at";
/// The W3C trace context of the envelope, for tools that read headers only.
pub(crate) const TRACEPARENT: &str = "traceparent";

/// Headers the transport writes; cleared when a parked message is replayed.
const OWN: [&str; 5] = [ATTEMPTS, DELIVERIES, LAST_ERROR, ERROR, DEAD_LETTERED_AT];
/// Redeliveries counted by a quorum queue.
const BROKER_DELIVERY_COUNT: &str = "x-delivery-count";
/// Error texts are cut to this many bytes: headers travel in one frame.
const MAX_ERROR_BYTES: usize = 4096;

/// The properties of a freshly published envelope: persistent JSON with its id, type and trace.
pub(crate) fn for_envelope(envelope: &Envelope) -> BasicProperties {
    let mut headers = FieldTable::default();
    if let Some(traceparent) = &envelope.traceparent {
        headers.insert(TRACEPARENT.into(), text(traceparent));
    }
    let timestamp = u64::try_from(envelope.occurred_at.unix_timestamp()).unwrap_or(0);
    BasicProperties::default()
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_message_id(envelope.message_id.to_string().into())
        .with_type(short(&envelope.message_type))
        .with_correlation_id(envelope.correlation_id.to_string().into())
        .with_timestamp(timestamp)
        .with_headers(headers)
}

/// A copy of `properties` for republishing: the same properties and application headers, no
/// broker headers, and `changes` applied (a `None` value removes the header).
pub(crate) fn copy_with(
    properties: &BasicProperties,
    changes: &[(&str, Option<AMQPValue>)],
) -> BasicProperties {
    let mut headers: BTreeMap<ShortString, AMQPValue> = properties
        .headers()
        .as_ref()
        .map(|table| {
            table
                .inner()
                .iter()
                .filter(|(key, _)| {
                    !key.as_str().starts_with("x-") || key.as_str().starts_with("x-orderflow-")
                })
                .map(|(key, value)| (key.clone(), value.clone()))
                .collect()
        })
        .unwrap_or_default();
    for (key, value) in changes {
        match value {
            Some(value) => headers.insert(ShortString::from(*key), value.clone()),
            None => headers.remove(*key),
        };
    }
    properties
        .clone()
        .with_delivery_mode(2)
        .with_headers(FieldTable::from(headers))
}

/// The changes that clear every header the transport wrote, with the attempt count reset.
pub(crate) fn reset() -> Vec<(&'static str, Option<AMQPValue>)> {
    let mut changes: Vec<(&'static str, Option<AMQPValue>)> =
        OWN.iter().map(|key| (*key, None)).collect();
    changes.push((ATTEMPTS, Some(number(0))));
    changes
}

pub(crate) fn number(value: i64) -> AMQPValue {
    AMQPValue::LongLongInt(value)
}

pub(crate) fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

/// An error text for a header, cut to a size that fits a frame.
pub(crate) fn error_text(error: &str) -> AMQPValue {
    let mut end = error.len().min(MAX_ERROR_BYTES);
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    text(&error[..end])
}

fn short(value: &str) -> ShortString {
    ShortString::try_new(value).unwrap_or_default()
}

fn header<'a>(properties: &'a BasicProperties, key: &str) -> Option<&'a AMQPValue> {
    properties.headers().as_ref()?.inner().get(key)
}

/// An integer header, whatever integer type the writer chose.
pub(crate) fn read_number(properties: &BasicProperties, key: &str) -> Option<i64> {
    match header(properties, key)? {
        AMQPValue::ShortShortInt(value) => Some(i64::from(*value)),
        AMQPValue::ShortShortUInt(value) => Some(i64::from(*value)),
        AMQPValue::ShortInt(value) => Some(i64::from(*value)),
        AMQPValue::ShortUInt(value) => Some(i64::from(*value)),
        AMQPValue::LongInt(value) => Some(i64::from(*value)),
        AMQPValue::LongUInt(value) => Some(i64::from(*value)),
        AMQPValue::LongLongInt(value) => Some(*value),
        AMQPValue::Timestamp(value) => i64::try_from(*value).ok(),
        _ => None,
    }
}

/// A counter header as `u32`; 0 when absent.
pub(crate) fn read_count(properties: &BasicProperties, key: &str) -> u32 {
    read_number(properties, key)
        .and_then(|value| u32::try_from(value).ok())
        .unwrap_or(0)
}

/// A text header.
pub(crate) fn read_text(properties: &BasicProperties, key: &str) -> Option<String> {
    match header(properties, key)? {
        AMQPValue::LongString(value) => Some(String::from_utf8_lossy(value.as_bytes()).into()),
        AMQPValue::ShortString(value) => Some(value.as_str().to_owned()),
        _ => None,
    }
}

/// Redeliveries by a quorum queue (it counts returns of unacked deliveries).
pub(crate) fn broker_redeliveries(properties: &BasicProperties) -> Option<u32> {
    read_number(properties, BROKER_DELIVERY_COUNT).and_then(|value| u32::try_from(value).ok())
}

/// Why the broker itself dead-lettered a message (`x-death`), if it did.
pub(crate) fn broker_death_reason(properties: &BasicProperties) -> Option<String> {
    let AMQPValue::FieldArray(deaths) = header(properties, "x-death")? else {
        return None;
    };
    deaths.as_slice().iter().find_map(|death| match death {
        AMQPValue::FieldTable(death) => match death.inner().get("reason")? {
            AMQPValue::LongString(reason) => {
                Some(String::from_utf8_lossy(reason.as_bytes()).into_owned())
            }
            _ => None,
        },
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_keeps_application_headers_and_drops_broker_ones() {
        let mut headers = FieldTable::default();
        headers.insert("traceparent".into(), text("00-abc-def-01"));
        headers.insert("x-delivery-count".into(), number(3));
        headers.insert("x-orderflow-attempts".into(), number(1));
        let properties = BasicProperties::default().with_headers(headers);
        let copy = copy_with(&properties, &[(DELIVERIES, Some(number(2)))]);
        assert_eq!(
            read_text(&copy, TRACEPARENT).as_deref(),
            Some("00-abc-def-01")
        );
        assert_eq!(read_count(&copy, ATTEMPTS), 1);
        assert_eq!(read_count(&copy, DELIVERIES), 2);
        assert_eq!(broker_redeliveries(&copy), None);
        assert_eq!(copy.delivery_mode(), &Some(2));
    }

    #[test]
    fn a_reset_clears_the_transport_headers() {
        let mut headers = FieldTable::default();
        headers.insert(ERROR.into(), text("boom"));
        headers.insert(ATTEMPTS.into(), number(3));
        let properties = BasicProperties::default().with_headers(headers);
        let copy = copy_with(&properties, &reset());
        assert_eq!(read_text(&copy, ERROR), None);
        assert_eq!(read_number(&copy, ATTEMPTS), Some(0));
    }

    #[test]
    fn long_errors_are_cut_on_a_character_boundary() {
        let error = "é".repeat(MAX_ERROR_BYTES);
        let AMQPValue::LongString(cut) = error_text(&error) else {
            panic!("an error is a long string");
        };
        assert!(cut.len() <= MAX_ERROR_BYTES);
        assert!(std::str::from_utf8(cut.as_bytes()).is_ok());
    }
}
