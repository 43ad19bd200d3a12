use std::time::Duration;

use async_trait::async_trait;
use store::{OutboxEntry, OutboxReader};
use store_sql::messaging::outbox_entry;
use store_sql::value::to_limit;

use crate::database::SqliteDatabase;
use crate::error::SqlResultExt as _;

/// A service database's outbox, as the relay reads it.
///
/// Rows are read in id order and deleted once published, so a row that commits late is simply
/// picked up by the next read: there is no position to skip past it.
#[derive(Clone, Debug)]
pub struct SqliteOutbox {
    database: SqliteDatabase,
}

impl SqliteOutbox {
    pub fn new(database: SqliteDatabase) -> Self {
        Self { database }
    }
}

#[async_trait]
impl OutboxReader for SqliteOutbox {
    async fn pending(&self, max: usize) -> store::Result<Vec<OutboxEntry>> {
        let rows = sqlx::query("SELECT id, envelope FROM outbox ORDER BY id LIMIT ?")
            .bind(to_limit(max))
            .fetch_all(self.database.reader())
            .await
            .or_store_error("read outbox")?;
        rows.iter().map(outbox_entry).collect()
    }

    async fn mark_published(&self, ids: &[i64]) -> store::Result<()> {
        let mut tx = self
            .database
            .writer()
            .begin()
            .await
            .or_store_error("begin transaction")?;
        for id in ids {
            sqlx::query("DELETE FROM outbox WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await
                .or_store_error("delete published outbox message")?;
        }
        tx.commit()
            .await
            .or_store_error("commit published outbox messages")
    }

    async fn wait_for_new(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.database.outbox_committed().notified()).await;
    }

    async fn lag(&self) -> store::Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(self.database.reader())
            .await
            .or_store_error("count outbox")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
