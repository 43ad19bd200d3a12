use store::StoreError;

/// Translates driver errors into what callers branch on.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
        sqlx::Error::Database(db) if is_outage(db.code().as_deref()) => {
            StoreError::Unavailable(error.into())
        }
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(error.into()),
        _ => StoreError::Unexpected(error.into()),
    }
}

/// Whether an SQLite result code (primary or extended) means the database cannot do its job
/// right now, as opposed to a statement that is wrong: busy, locked, I/O error, disk full,
/// cannot open, read-only.
fn is_outage(code: Option<&str>) -> bool {
    const BUSY: i32 = 5;
    const LOCKED: i32 = 6;
    const READONLY: i32 = 8;
    const IOERR: i32 = 10;
    const FULL: i32 = 13;
    const CANTOPEN: i32 = 14;
    let primary = code.and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
    matches!(
        primary,
        Some(BUSY | LOCKED | READONLY | IOERR | FULL | CANTOPEN)
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

pub(crate) fn from_millis(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}
