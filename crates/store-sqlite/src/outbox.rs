use std::time::Duration;

use async_trait::async_trait;
use store::{OutboxEntry, OutboxReader};
use store_sql::messaging::outbox_entry;
use store_sql::value::to_limit;

use crate::database::SqliteDatabase;
use crate::rows::{execute, rows, scalar};

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
        self.database
            .read("read outbox", |connection| {
                rows(
                    connection,
                    "SELECT id, envelope FROM outbox ORDER BY id LIMIT ?",
                    [to_limit(max)],
                )
            })?
            .iter()
            .map(outbox_entry)
            .collect()
    }

    async fn mark_published(&self, ids: &[i64]) -> store::Result<()> {
        self.database
            .write("delete published outbox messages", |connection| {
                for id in ids {
                    execute(connection, "DELETE FROM outbox WHERE id = ?", [id])?;
                }
                Ok(())
            })
            .await
    }

    async fn wait_for_new(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.database.outbox_committed().notified()).await;
    }

    async fn lag(&self) -> store::Result<u64> {
        let count: i64 = self.database.read("count outbox", |connection| {
            scalar(connection, "SELECT COUNT(*) FROM outbox", [])
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
