//! Driver errors translated into what callers of the store ports branch on, and the decoding
//! of columns. It never retries anything itself: that is the caller's decision.

use store::StoreError;

/// Translates a driver error: a lost race on a unique key is a [`StoreError::Conflict`]
/// (reload and retry), an outage or a rolled-back serialization failure or deadlock is
/// [`StoreError::Unavailable`] (retry later), anything else (a CHECK violation: a bug) is
/// [`StoreError::Unexpected`].
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            // unique_violation: someone else wrote the same thing first.
            Some("23505") => StoreError::Conflict,
            // serialization_failure and deadlock_detected: the transaction was rolled back and
            // running it again succeeds. Not the message's fault, so it must not use up the
            // message's attempts.
            Some("40001" | "40P01") => StoreError::Unavailable(error.into()),
            Some(code) if is_outage(code) => StoreError::Unavailable(error.into()),
            _ => StoreError::Unexpected(error.into()),
        },
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.into()),
        _ => StoreError::Unexpected(error.into()),
    }
}

/// SQLSTATEs that say the server cannot serve now, not that the statement is wrong.
fn is_outage(code: &str) -> bool {
    // 08: connection exception; 53: insufficient resources (too many connections, disk full).
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            // admin_shutdown, crash_shutdown, cannot_connect_now, query_canceled (a statement
            // timeout), lock_not_available (a lock timeout)
            "57P01" | "57P02" | "57P03" | "57014" | "55P03"
        )
}

/// `.map_err(store_error)` as a method, with what was attempted.
pub(crate) trait SqlResultExt<T> {
    fn or_store_error(self, what: &'static str) -> store::Result<T>;
}

impl<T> SqlResultExt<T> for Result<T, sqlx::Error> {
    fn or_store_error(self, what: &'static str) -> store::Result<T> {
        self.map_err(|error| match store_error(error) {
            StoreError::Unexpected(source) => StoreError::Unexpected(source.context(what)),
            StoreError::Unavailable(source) => StoreError::Unavailable(source.context(what)),
            StoreError::Conflict => StoreError::Conflict,
        })
    }
}

/// A column that does not parse as what it must hold: the database was written by a bug.
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("corrupt {what}: {detail}"))
}

pub(crate) fn parse_uuid(raw: &str) -> store::Result<uuid::Uuid> {
    raw.parse().map_err(|e| corrupt("uuid", e))
}

pub(crate) fn parse_envelope(raw: &str) -> store::Result<contracts::Envelope> {
    serde_json::from_str(raw).map_err(|e| corrupt("envelope", e))
}

pub(crate) fn to_json(envelope: &contracts::Envelope) -> store::Result<String> {
    serde_json::to_string(envelope).map_err(|e| StoreError::Unexpected(e.into()))
}

/// A count column (BIGINT, CHECKed non-negative) as the `u32` the domain uses.
pub(crate) fn to_count(what: &str, value: i64) -> store::Result<u32> {
    u32::try_from(value).map_err(|e| corrupt(what, e))
}

/// A `usize` limit as a SQL `LIMIT`.
pub(crate) fn to_limit(max: usize) -> i64 {
    i64::try_from(max).unwrap_or(i64::MAX)
}

pub(crate) fn from_millis(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_and_pool_timeouts_are_outages() {
        assert!(matches!(
            store_error(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        assert!(matches!(
            store_error(sqlx::Error::Io(
                std::io::ErrorKind::ConnectionRefused.into()
            )),
            StoreError::Unavailable(_)
        ));
        assert!(is_outage("08006"));
        assert!(is_outage("57P01"));
        assert!(is_outage("53300"));
    }

    #[test]
    fn constraint_and_syntax_errors_are_not_outages() {
        assert!(!is_outage("23514"));
        assert!(!is_outage("23505"));
        assert!(!is_outage("42601"));
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound),
            StoreError::Unexpected(_)
        ));
    }
}
