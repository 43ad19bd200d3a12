use async_trait::async_trait;
use contracts::Envelope;
use rusqlite::{Connection, params};
use store::UnitOfWork;
use store_sql::value::envelope_json;
use uuid::Uuid;

use crate::database::{SqliteDatabase, Writer, committed};
use crate::error::SqlResultExt as _;
use crate::rows::execute;

/// A unit of work on one service database, holding its writer connection until it commits
/// or is dropped (which undoes it). Every service's transaction port is implemented on it,
/// next to the inbox and outbox it always carries.
pub(crate) struct SqliteTx {
    /// `None` once the unit has ended.
    writer: Option<Writer>,
    database: SqliteDatabase,
    wrote_outbox: bool,
}

impl SqliteTx {
    /// Wraps `writer`, on which a unit of work has just been opened.
    pub(crate) fn new(writer: Writer, database: SqliteDatabase) -> Self {
        Self {
            writer: Some(writer),
            database,
            wrote_outbox: false,
        }
    }

    /// The unit's connection; statements on it run inline.
    pub(crate) fn connection(&self) -> &Connection {
        self.writer
            .as_ref()
            .expect("a unit of work holds the writer until it ends")
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            self.database.end_unit(&writer, false, false);
        }
    }
}

#[async_trait]
impl UnitOfWork for SqliteTx {
    async fn mark_handled(&mut self, message_id: Uuid) -> store::Result<bool> {
        let inserted = execute(
            self.connection(),
            concat!(
                "INSERT INTO inbox (message_id, handled_at) VALUES (?, ",
                now_ms!(),
                ") ON CONFLICT (message_id) DO NOTHING"
            ),
            [message_id.to_string()],
        )
        .or_store_error("record message in inbox")?;
        Ok(inserted == 1)
    }

    async fn enqueue(&mut self, envelope: &Envelope) -> store::Result<()> {
        execute(
            self.connection(),
            concat!(
                "INSERT INTO outbox (message_id, envelope, created_at) VALUES (?, ?, ",
                now_ms!(),
                ")"
            ),
            params![envelope.message_id.to_string(), envelope_json(envelope)?],
        )
        .or_store_error("write outbox message")?;
        self.wrote_outbox = true;
        Ok(())
    }

    /// Keeps the unit's work and frees the writer for the next unit, then waits until the
    /// transaction it is in has committed.
    async fn commit(mut self: Box<Self>) -> store::Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        let verdict = self.database.end_unit(&writer, true, self.wrote_outbox);
        drop(writer);
        committed(verdict, "commit").await
    }
}
