//! The embedded transport's dead letters: each queue's in a table of its service database,
//! moved there by a consumer (see `queue.rs`) with the error and the attempts it took.

use async_trait::async_trait;
use contracts::{Envelope, Queue};
use store_sql::SqlRow as _;
use store_sql::value::from_millis;
use transport::{DeadLetter, DeadLetters, TransportError};

use crate::SqliteQueue;
use crate::rows::{execute, rows};

fn parse_dead_letter_id(id: &str) -> Option<(Queue, i64)> {
    let (queue, number) = id.split_once(':')?;
    Some((Queue::from_name(queue)?, number.parse().ok()?))
}

#[async_trait]
impl DeadLetters for SqliteQueue {
    async fn list(&self) -> Result<Vec<DeadLetter>, TransportError> {
        let mut all = Vec::new();
        for queue in Queue::ALL {
            let found = self.databases.get(queue).read("list dead letters", |connection| {
                rows(
                    connection,
                    "SELECT id, message_id, envelope, error, attempts, dead_lettered_at FROM dead_letters WHERE queue = ? ORDER BY id",
                    [queue.name()],
                )
            })?;
            for row in found {
                let dead_lettered_at = from_millis(row.integer("dead_lettered_at")?);
                let raw = row.text("envelope")?;
                let envelope = serde_json::from_str::<Envelope>(&raw).unwrap_or_else(|_| {
                    let message_id = row.text("message_id").ok();
                    DeadLetter::undecodable_body(
                        raw.as_bytes(),
                        message_id.and_then(|id| id.parse().ok()),
                        None,
                        dead_lettered_at,
                    )
                });
                all.push(DeadLetter {
                    id: format!("{}:{}", queue.name(), row.integer("id")?),
                    queue,
                    envelope,
                    error: row.text("error")?,
                    attempts: row.count("attempts")?,
                    dead_lettered_at,
                });
            }
        }
        all.sort_by_key(|d| d.dead_lettered_at);
        Ok(all)
    }

    async fn replay(&self, id: &str) -> Result<bool, TransportError> {
        let Some((queue, number)) = parse_dead_letter_id(id) else {
            return Ok(false);
        };
        let database = self.databases.get(queue);
        let changed = database
            .write("replay dead letter", |connection| {
                // A fresh message id would defeat the inbox; the same id is fine, because a
                // dead letter was never handled, so the inbox has no record of it.
                let moved = execute(
                    connection,
                    concat!(
                        "INSERT INTO queue_messages (queue, message_id, envelope, visible_at, enqueued_at) ",
                        "SELECT queue, message_id, envelope, ",
                        now_ms!(),
                        ", ",
                        now_ms!(),
                        " FROM dead_letters WHERE id = ? ON CONFLICT (queue, message_id) DO NOTHING"
                    ),
                    [number],
                )?;
                let deleted = execute(connection, "DELETE FROM dead_letters WHERE id = ?", [number])?;
                Ok(moved + deleted)
            })
            .await?;
        database.signal_queue_filled();
        Ok(changed > 0)
    }

    async fn discard(&self, id: &str) -> Result<bool, TransportError> {
        let Some((queue, number)) = parse_dead_letter_id(id) else {
            return Ok(false);
        };
        let deleted = self
            .databases
            .get(queue)
            .write("discard dead letter", |connection| {
                execute(
                    connection,
                    "DELETE FROM dead_letters WHERE id = ?",
                    [number],
                )
            })
            .await?;
        Ok(deleted > 0)
    }
}
