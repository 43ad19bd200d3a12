//! SQLite's reading of its own result codes; the rest of the translation of driver errors is
//! shared with PostgreSQL ([`store_sql::store_error`]).

/// [`store_sql::store_error`] with this dialect's codes, as a method, with what was attempted.
pub(crate) trait SqlResultExt<T> {
    fn or_store_error(self, what: &'static str) -> store::Result<T>;
}

impl<T> SqlResultExt<T> for Result<T, sqlx::Error> {
    fn or_store_error(self, what: &'static str) -> store::Result<T> {
        self.map_err(|error| store_sql::store_error(error, what, is_outage))
    }
}

/// Whether an SQLite result code (primary or extended) means the database cannot do its job
/// right now, as opposed to a statement that is wrong: busy, locked, I/O error, disk full,
/// cannot open, read-only.
fn is_outage(code: &str) -> bool {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const READONLY: i32 = 8;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    let primary = code.parse::<i32>().ok().map(|c| c & 0xff);
    matches!(
        primary,
        Some(BUSY | LOCKED | READONLY | IOERR | FULL | CANTOPEN)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_locked_and_disk_failures_are_outages_in_primary_or_extended_form() {
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT (517), SQLITE_IOERR_WRITE (778), SQLITE_FULL
        for code in ["5", "517", "6", "778", "13"] {
            assert!(is_outage(code), "{code}");
        }
    }

    #[test]
    fn constraint_and_syntax_errors_are_not_outages() {
        // SQLITE_CONSTRAINT_UNIQUE (2067), SQLITE_CONSTRAINT_CHECK (275), SQLITE_ERROR
        for code in ["2067", "275", "1", "not a code"] {
            assert!(!is_outage(code), "{code}");
        }
    }
}
