//! Driver errors translated into what callers of the store ports branch on. Which of a
//! database's own error codes mean "not now" is the dialect's to say; the rest is the same for
//! every SQL database. It never retries anything itself: that is the caller's decision.

use store::StoreError;

/// Translates a driver error, with what was attempted: a lost race on a unique key is a
/// [`StoreError::Conflict`] (reload and retry); a database error whose code `is_transient`
/// says is an outage or a rolled-back transaction, a pool that timed out or closed, or a lost
/// connection is [`StoreError::Unavailable`] (retry later); anything else (a CHECK violation,
/// a column that does not decode: a bug) is [`StoreError::Unexpected`].
pub fn store_error(
    error: sqlx::Error,
    what: &'static str,
    is_transient: fn(&str) -> bool,
) -> StoreError {
    match &error {
        sqlx::Error::Database(database) if database.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(database) if database.code().is_some_and(|c| is_transient(&c)) => {
            StoreError::Unavailable(anyhow::Error::new(error).context(what))
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => {
            StoreError::Unavailable(anyhow::Error::new(error).context(what))
        }
        _ => StoreError::Unexpected(anyhow::Error::new(error).context(what)),
    }
}

/// A column that does not parse as what it must hold: the database was written by a bug.
pub fn corrupt(what: &str, detail: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("corrupt {what}: {detail}"))
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::error::Error as StdError;

    use sqlx::error::{DatabaseError, ErrorKind};

    use super::*;

    /// A database error with a code, as a driver reports it.
    #[derive(Debug)]
    struct Reported {
        code: &'static str,
        unique_violation: bool,
    }

    impl std::fmt::Display for Reported {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "database error {}", self.code)
        }
    }

    impl StdError for Reported {}

    impl DatabaseError for Reported {
        fn message(&self) -> &str {
            "reported by the database"
        }

        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.code))
        }

        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }

        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }

        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }

        fn kind(&self) -> ErrorKind {
            if self.unique_violation {
                ErrorKind::UniqueViolation
            } else {
                ErrorKind::Other
            }
        }
    }

    fn reported(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Reported {
            code,
            unique_violation: false,
        }))
    }

    fn busy(code: &str) -> bool {
        code == "busy"
    }

    #[test]
    fn a_unique_violation_is_a_conflict_whatever_its_code() {
        assert!(matches!(
            store_error(
                sqlx::Error::Database(Box::new(Reported {
                    code: "busy",
                    unique_violation: true,
                })),
                "insert",
                busy
            ),
            StoreError::Conflict
        ));
    }

    #[test]
    fn a_code_the_dialect_calls_transient_is_unavailable_and_says_what_was_attempted() {
        let error = store_error(reported("busy"), "insert row", busy);
        let StoreError::Unavailable(source) = error else {
            panic!("expected Unavailable, got {error:?}");
        };
        assert_eq!(source.to_string(), "insert row");
    }

    #[test]
    fn any_other_database_error_is_unexpected() {
        assert!(matches!(
            store_error(reported("check violation"), "insert", busy),
            StoreError::Unexpected(_)
        ));
    }

    #[test]
    fn connection_failures_and_pool_timeouts_are_outages() {
        for error in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
        ] {
            assert!(matches!(
                store_error(error, "read", busy),
                StoreError::Unavailable(_)
            ));
        }
    }

    #[test]
    fn a_missing_row_or_column_is_unexpected() {
        assert!(matches!(
            store_error(sqlx::Error::RowNotFound, "read", busy),
            StoreError::Unexpected(_)
        ));
        assert!(matches!(
            store_error(sqlx::Error::ColumnNotFound("id".into()), "read", busy),
            StoreError::Unexpected(_)
        ));
    }

    #[test]
    fn a_corrupt_column_is_unexpected_and_names_what_it_held() {
        let error = corrupt("saga step", "Nonsense");
        assert_eq!(error.to_string(), "corrupt saga step: Nonsense");
        assert!(matches!(error, StoreError::Unexpected(_)));
    }
}
