//! SQLite's result codes read into what callers of the store ports branch on: a lost race on
//! a unique key is a [`StoreError::Conflict`], a database that cannot do its job right now is
//! [`StoreError::Unavailable`], anything else (a CHECK violation, a column of another type: a
//! bug) is [`StoreError::Unexpected`]. It never retries anything itself.

use store::StoreError;

/// [`store_error`] as a method, with what was attempted.
pub(crate) trait SqlResultExt<T> {
    fn or_store_error(self, what: &'static str) -> store::Result<T>;
}

impl<T> SqlResultExt<T> for Result<T, rusqlite::Error> {
    fn or_store_error(self, what: &'static str) -> store::Result<T> {
        self.map_err(|error| store_error(error, what))
    }
}

/// Translates a driver error, with what was attempted.
pub(crate) fn store_error(error: rusqlite::Error, what: &'static str) -> StoreError {
    let code = match &error {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.extended_code),
        _ => None,
    };
    match code {
        Some(code) if is_unique_violation(code) => StoreError::Conflict,
        Some(code) if is_outage(code) => {
            StoreError::Unavailable(anyhow::Error::new(error).context(what))
        }
        _ => StoreError::Unexpected(anyhow::Error::new(error).context(what)),
    }
}

/// What a database closed by [`crate::SqliteDatabase::close`] answers.
pub(crate) fn closed(what: &'static str) -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("the database is closed").context(what))
}

/// A UNIQUE or PRIMARY KEY constraint (extended codes only: a CHECK is not a conflict).
fn is_unique_violation(code: i32) -> bool {
    const CONSTRAINT_PRIMARYKEY: i32 = 1555;
    const CONSTRAINT_UNIQUE: i32 = 2067;
    matches!(code, CONSTRAINT_PRIMARYKEY | CONSTRAINT_UNIQUE)
}

/// Whether an SQLite result code (primary or extended) means the database cannot do its job
/// right now, as opposed to a statement that is wrong: busy, locked, I/O error, disk full,
/// cannot open, read-only.
fn is_outage(code: i32) -> bool {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const READONLY: i32 = 8;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    matches!(
        code & 0xff,
        BUSY | LOCKED | READONLY | IOERR | FULL | CANTOPEN
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn busy_locked_and_disk_failures_are_outages_in_primary_or_extended_form() {
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED, SQLITE_IOERR_WRITE, SQLITE_FULL
        for code in [5, 517, 6, 778, 13] {
            assert!(is_outage(code), "{code}");
            assert!(
                matches!(
                    store_error(failure(code), "write"),
                    StoreError::Unavailable(_)
                ),
                "{code}"
            );
        }
    }

    #[test]
    fn constraint_and_syntax_errors_are_not_outages() {
        // SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_CHECK, SQLITE_ERROR
        for code in [2067, 275, 1] {
            assert!(!is_outage(code), "{code}");
        }
    }

    #[test]
    fn a_unique_or_primary_key_violation_is_a_conflict_and_a_check_violation_a_bug() {
        assert!(matches!(
            store_error(failure(2067), "insert"),
            StoreError::Conflict
        ));
        assert!(matches!(
            store_error(failure(1555), "insert"),
            StoreError::Conflict
        ));
        assert!(matches!(
            store_error(failure(275), "insert"),
            StoreError::Unexpected(_)
        ));
        assert!(matches!(
            store_error(rusqlite::Error::QueryReturnedNoRows, "read"),
            StoreError::Unexpected(_)
        ));
    }
}
