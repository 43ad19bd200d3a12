use async_trait::async_trait;
use contracts::Envelope;
use rusqlite::{Connection, params};
use store::UnitOfWork;
use store_sql::value::envelope_json;
use tokio::sync::OwnedMappedMutexGuard;
use uuid::Uuid;

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;
use crate::rows::execute;

/// A write transaction on one service database, holding its writer connection until it
/// commits or is dropped (which rolls it back). Every service's transaction port is
/// implemented on it, next to the inbox and outbox it always carries.
pub(crate) struct SqliteTx {
    connection: OwnedMappedMutexGuard<Option<Connection>, Connection>,
    database: SqliteDatabase,
    wrote_outbox: bool,
    committed: bool,
}

impl SqliteTx {
    /// Wraps `connection`, on which a transaction has just begun.
    pub(crate) fn new(
        connection: OwnedMappedMutexGuard<Option<Connection>, Connection>,
        database: SqliteDatabase,
    ) -> Self {
        Self {
            connection,
            database,
            wrote_outbox: false,
            committed: false,
        }
    }

    /// The transaction's connection; statements on it run inline.
    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.committed && !self.connection.is_autocommit() {
            let _ = execute(&self.connection, "ROLLBACK", []);
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

    async fn commit(mut self: Box<Self>) -> store::Result<()> {
        execute(self.connection(), "COMMIT", []).or_store_error("commit")?;
        self.committed = true;
        if self.wrote_outbox {
            self.database.outbox_committed().notify_one();
        }
        Ok(())
    }
}
