//! PostgreSQL's reading of its own SQLSTATEs; the rest of the translation of driver errors is
//! shared with SQLite ([`store_sql::store_error`]): a unique violation (23505) is a
//! `Conflict`, the codes below are `Unavailable`, anything else (a CHECK violation: a bug) is
//! `Unexpected`.

/// [`store_sql::store_error`] with this dialect's codes, as a method, with what was attempted.
pub(crate) trait SqlResultExt<T> {
    fn or_store_error(self, what: &'static str) -> store::Result<T>;
}

impl<T> SqlResultExt<T> for Result<T, sqlx::Error> {
    fn or_store_error(self, what: &'static str) -> store::Result<T> {
        self.map_err(|error| store_sql::store_error(error, what, is_transient))
    }
}

/// SQLSTATEs that say "run it again later", not that the statement is wrong.
fn is_transient(code: &str) -> bool {
    // serialization_failure and deadlock_detected: the transaction was rolled back and running
    // it again succeeds. Not the message's fault, so it must not use up the message's attempts.
    matches!(code, "40001" | "40P01") || is_outage(code)
}

/// SQLSTATEs that say the server cannot serve now.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_failures_shutdowns_and_rolled_back_transactions_are_transient() {
        for code in ["08006", "57P01", "53300", "55P03", "40001", "40P01"] {
            assert!(is_transient(code), "{code}");
        }
    }

    #[test]
    fn constraint_and_syntax_errors_are_not_transient() {
        for code in ["23514", "23505", "42601"] {
            assert!(!is_transient(code), "{code}");
        }
    }
}
