//! How each connection to a service database is opened, and the thread that checkpoints its
//! write-ahead log.
//!
//! The writer never checkpoints (`wal_autocheckpoint = 0`): a checkpoint copies pages into the
//! database file and syncs it, and a writer that did so would stall every transaction queued
//! behind it. A thread of the database's own, on a connection of its own, checkpoints instead
//! (passive: it never blocks the writer), and truncates the log when it has grown past
//! [`WAL_CAP_FRAMES`] anyway (under a steady stream of commits a passive checkpoint may never
//! catch up with the end of the log, which is when SQLite starts it over).

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tracing::warn;

/// How long a statement waits for a lock another connection holds before it fails as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a truncating checkpoint waits for the writer and the readers. While it waits it
/// holds off every new write transaction, so it gives up soon and tries again at its next
/// turn, rather than stall the writer (and the async worker it runs on) for [`BUSY_TIMEOUT`].
const CHECKPOINT_BUSY_TIMEOUT: Duration = Duration::from_millis(100);

/// Statements each connection keeps prepared: more than any one service runs.
const STATEMENT_CACHE: usize = 64;

/// How often the checkpointer copies the log into the database file: a page written many
/// times in between is copied (and synced) once. Short, because how long transactions stall
/// now and then grows with how much of the log a checkpoint has to copy: measured at 250
/// orders/s, p99 POST→terminal was about 0.5 s at 250 ms, 1 s at 2 s and 0.25–0.3 s at 50 ms,
/// with the closed loop's throughput unchanged.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(50);

/// Log frames (pages) past which the checkpointer truncates the log, waiting for the writer
/// between two transactions: 64 MiB at the default 4 KiB page.
const WAL_CAP_FRAMES: i64 = 16_384;

/// The one connection that writes: WAL, `synchronous = NORMAL` (a committed transaction
/// survives a crash of the process; only a power loss can cost the last ones), foreign keys.
///
/// # Errors
/// When the file cannot be opened or set up.
pub(crate) fn open_writer(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&connection)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!(
            "journal_mode stayed {mode}"
        )));
    }
    let _: i64 =
        connection.pragma_update_and_check(None, "wal_autocheckpoint", 0, |row| row.get(0))?;
    Ok(connection)
}

/// A connection that only reads (WAL lets it read while the writer writes).
///
/// # Errors
/// When the file does not exist or cannot be opened.
pub(crate) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&connection)?;
    Ok(connection)
}

fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    // Without the query planner stability guarantee, SQLite re-prepares a cached statement
    // each time a new value is bound to a parameter the planner looked at (`LIMIT ?`, the
    // lease's and the outbox's): a tenth of all CPU under load, measured.
    connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    connection.pragma_update(None, "synchronous", "NORMAL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// The thread that checkpoints one database's log; it stops when stopped or dropped.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    /// Starts checkpointing the database at `path` on a connection of its own.
    ///
    /// # Errors
    /// When the connection cannot be opened or the thread started.
    pub(crate) fn start(path: &Path, service: &'static str) -> anyhow::Result<Self> {
        let connection = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        configure(&connection)?;
        connection.busy_timeout(CHECKPOINT_BUSY_TIMEOUT)?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("checkpoint-{service}"))
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(CHECKPOINT_INTERVAL)
                {
                    if let Err(error) = checkpoint(&connection) {
                        warn!(database = service, %error, "cannot checkpoint the write-ahead log");
                    }
                }
            })?;
        Ok(Self { stop, thread })
    }

    /// Stops the thread and waits for it (and for its connection to close).
    pub(crate) async fn stop(self) {
        drop(self.stop);
        let thread = self.thread;
        // A checkpoint under way finishes first: milliseconds, off the async workers.
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Copies what it can of the log into the database file without blocking anyone; truncates
/// the log when it has grown past its cap.
fn checkpoint(connection: &Connection) -> rusqlite::Result<()> {
    let frames: i64 =
        connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))?;
    if frames > WAL_CAP_FRAMES {
        connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    }
    Ok(())
}
