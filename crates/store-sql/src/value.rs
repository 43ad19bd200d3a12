//! Column values to and from the ports' types, the same in every SQL database the adapters
//! use: ids as text, envelopes as JSON text, times as unix milliseconds, counts and limits as
//! 64-bit integers. A value that does not parse is [`corrupt`].

use std::time::Duration;

use contracts::Envelope;
use contracts::value::{Email, OrderId, Sku};
use store::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::corrupt;

/// An id column.
///
/// # Errors
/// [`StoreError::Unexpected`] when it is not a UUID.
pub fn parse_uuid(raw: &str) -> store::Result<Uuid> {
    raw.parse().map_err(|e| corrupt("uuid", e))
}

/// An order id column.
///
/// # Errors
/// [`StoreError::Unexpected`] when it is not an order id.
pub fn parse_order_id(raw: &str) -> store::Result<OrderId> {
    raw.parse().map_err(|e: String| corrupt("order id", e))
}

/// A product id column.
///
/// # Errors
/// [`StoreError::Unexpected`] when it is not a valid product id.
pub fn parse_sku(raw: &str) -> store::Result<Sku> {
    Sku::parse(raw).map_err(|e| corrupt("product id", e))
}

/// An email address column.
///
/// # Errors
/// [`StoreError::Unexpected`] when it is not a valid address.
pub fn parse_email(raw: &str) -> store::Result<Email> {
    Email::parse(raw).map_err(|e| corrupt("email address", e))
}

/// An envelope column, as [`envelope_json`] wrote it.
///
/// # Errors
/// [`StoreError::Unexpected`] when it is not an envelope.
pub fn parse_envelope(raw: &str) -> store::Result<Envelope> {
    serde_json::from_str(raw).map_err(|e| corrupt("envelope", e))
}

/// An envelope as the JSON text its column holds.
///
/// # Errors
/// [`StoreError::Unexpected`] when it cannot be serialized.
pub fn envelope_json(envelope: &Envelope) -> store::Result<String> {
    serde_json::to_string(envelope).map_err(|e| StoreError::Unexpected(e.into()))
}

/// A time column in unix milliseconds; the epoch if it is out of range.
pub fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A time as unix milliseconds, rounded down.
pub fn unix_millis(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos().div_euclid(1_000_000)).unwrap_or(i64::MAX)
}

/// A duration as milliseconds to add to the database's clock, saturating.
pub fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// A count column (an integer CHECKed non-negative) as the `u32` the domain uses.
///
/// # Errors
/// [`StoreError::Unexpected`] when it does not fit.
pub fn to_count(what: &str, value: i64) -> store::Result<u32> {
    u32::try_from(value).map_err(|e| corrupt(what, e))
}

/// A `usize` limit as a SQL `LIMIT`, saturating.
pub fn to_limit(max: usize) -> i64 {
    i64::try_from(max).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::envelope;

    #[test]
    fn an_envelope_comes_back_from_its_json_as_it_went_in() {
        let envelope = envelope();
        let json = envelope_json(&envelope).expect("serialize");
        assert_eq!(parse_envelope(&json).expect("parse"), envelope);
    }

    #[test]
    fn text_that_is_not_what_its_column_holds_is_corrupt() {
        assert!(matches!(
            parse_uuid("not-a-uuid"),
            Err(StoreError::Unexpected(_))
        ));
        assert!(matches!(
            parse_envelope("{}"),
            Err(StoreError::Unexpected(_))
        ));
        let id = Uuid::now_v7();
        assert_eq!(parse_uuid(&id.to_string()).expect("parse"), id);
        assert!(matches!(
            parse_order_id("order-1"),
            Err(StoreError::Unexpected(_))
        ));
        assert!(matches!(
            parse_sku("product 1"),
            Err(StoreError::Unexpected(_))
        ));
        assert!(matches!(parse_email("ada"), Err(StoreError::Unexpected(_))));
        assert_eq!(
            parse_email("ada@example.com").expect("parse").as_str(),
            "ada@example.com"
        );
        assert_eq!(
            parse_sku("product-001").expect("parse").as_str(),
            "product-001"
        );
        let order_id = OrderId::new(id);
        assert_eq!(
            parse_order_id(&order_id.to_string()).expect("parse"),
            order_id
        );
    }

    #[test]
    fn times_go_to_milliseconds_rounded_down_and_back() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_999_999)
            .expect("a valid time");
        assert_eq!(unix_millis(at), 1_700_000_000_123);
        assert_eq!(
            from_millis(1_700_000_000_123),
            OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_000_000)
                .expect("a valid time")
        );
        assert_eq!(from_millis(i64::MAX), OffsetDateTime::UNIX_EPOCH);
    }

    #[test]
    fn durations_and_limits_saturate_instead_of_wrapping() {
        assert_eq!(duration_millis(Duration::from_secs(30)), 30_000);
        assert_eq!(duration_millis(Duration::MAX), i64::MAX);
        assert_eq!(to_limit(100), 100);
        assert_eq!(to_limit(usize::MAX), i64::MAX);
    }

    #[test]
    fn a_negative_or_oversized_count_is_corrupt() {
        assert_eq!(to_count("available", 7).expect("a count"), 7);
        assert!(matches!(
            to_count("available", -1),
            Err(StoreError::Unexpected(_))
        ));
        assert!(matches!(
            to_count("available", i64::from(u32::MAX) + 1),
            Err(StoreError::Unexpected(_))
        ));
    }
}
