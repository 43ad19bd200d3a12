use async_trait::async_trait;
use contracts::Envelope;
use sqlx::{Sqlite, Transaction};
use store::UnitOfWork;
use store_sql::value::envelope_json;
use uuid::Uuid;

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;

/// A write transaction on one service database. Every service's transaction port is
/// implemented on it, next to the inbox and outbox it always carries.
pub(crate) struct SqliteTx {
    pub(crate) tx: Transaction<'static, Sqlite>,
    database: SqliteDatabase,
    wrote_outbox: bool,
}

impl SqliteTx {
    pub(crate) fn new(tx: Transaction<'static, Sqlite>, database: SqliteDatabase) -> Self {
        Self {
            tx,
            database,
            wrote_outbox: false,
        }
    }
}

#[async_trait]
impl UnitOfWork for SqliteTx {
    async fn mark_handled(&mut self, message_id: Uuid) -> store::Result<bool> {
        let done = sqlx::query(concat!(
            "INSERT INTO inbox (message_id, handled_at) VALUES (?, ",
            now_ms!(),
            ") ON CONFLICT (message_id) DO NOTHING"
        ))
        .bind(message_id.to_string())
        .execute(&mut *self.tx)
        .await
        .or_store_error("record message in inbox")?;
        Ok(done.rows_affected() == 1)
    }

    async fn enqueue(&mut self, envelope: &Envelope) -> store::Result<()> {
        sqlx::query(concat!(
            "INSERT INTO outbox (message_id, envelope, created_at) VALUES (?, ?, ",
            now_ms!(),
            ")"
        ))
        .bind(envelope.message_id.to_string())
        .bind(envelope_json(envelope)?)
        .execute(&mut *self.tx)
        .await
        .or_store_error("write outbox message")?;
        self.wrote_outbox = true;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> store::Result<()> {
        let Self {
            tx,
            database,
            wrote_outbox,
        } = *self;
        tx.commit().await.or_store_error("commit")?;
        if wrote_outbox {
            database.outbox_committed().notify_one();
        }
        Ok(())
    }
}
