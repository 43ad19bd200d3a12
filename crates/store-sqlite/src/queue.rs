//! The embedded transport: each consuming service's queue is a table in its own database.
//!
//! Publishing inserts a message into the queue table of every subscriber (ignoring one that is
//! already there, so a relay that publishes a batch twice changes nothing). Receiving leases
//! due messages for a while; a consumer that dies leaves its lease to expire, and the message
//! comes back. Same semantics as the RabbitMQ transport: at-least-once, retries with backoff,
//! a dead-letter store with the error and attempt count.

use std::time::Duration;

use async_trait::async_trait;
use contracts::{Envelope, Queue, subscribers};
use sqlx::Row as _;
use store_sql::value::{duration_millis, envelope_json, from_millis, to_limit};
use tokio::sync::{Mutex, watch};
use tracing::warn;
use transport::{DeadLetter, DeadLetters, Delivery, Publisher, QueueConsumer, TransportError};

use crate::database::{Databases, SqliteDatabase};
use crate::error::SqlResultExt as _;

/// How long a received message stays invisible to other consumers. Longer than any handler.
const LEASE: Duration = Duration::from_secs(60);

/// The SQL-queue transport across every service database of one data directory.
#[derive(Clone, Debug)]
pub struct SqliteQueue {
    databases: Databases,
}

impl SqliteQueue {
    pub fn new(databases: Databases) -> Self {
        Self { databases }
    }

    /// Releases every lease: in embedded mode one process owns the data directory, so leases
    /// left by a previous run (killed mid-message) are dead.
    ///
    /// # Errors
    /// When a database cannot be written.
    pub async fn release_stale_leases(&self) -> store::Result<()> {
        for database in self.databases.all() {
            sqlx::query(
                "UPDATE queue_messages SET leased_until = NULL WHERE leased_until IS NOT NULL",
            )
            .execute(database.writer())
            .await
            .or_store_error("release stale leases")?;
        }
        Ok(())
    }

    /// A consumer of `queue`; any number may run at once.
    pub fn consumer(&self, queue: Queue) -> SqliteQueueConsumer {
        let database = self.databases.get(queue).clone();
        SqliteQueueConsumer {
            queue,
            changes: Mutex::new(database.queue_changes()),
            database,
        }
    }

    /// Messages waiting in `queue` (leased ones included).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn depth(&self, queue: Queue) -> store::Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM queue_messages WHERE queue = ?")
            .bind(queue.name())
            .fetch_one(self.databases.get(queue).reader())
            .await
            .or_store_error("count queue")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[async_trait]
impl Publisher for SqliteQueue {
    async fn publish(&self, batch: &[Envelope]) -> Result<(), TransportError> {
        for queue in Queue::ALL {
            let messages: Vec<&Envelope> = batch
                .iter()
                .filter(|e| subscribers(&e.message_type).contains(&queue))
                .collect();
            if messages.is_empty() {
                continue;
            }
            let database = self.databases.get(queue);
            let mut tx = database
                .writer()
                .begin()
                .await
                .or_store_error("begin transaction")?;
            for envelope in messages {
                sqlx::query(concat!(
                    "INSERT INTO queue_messages (queue, message_id, envelope, visible_at, enqueued_at) ",
                    "VALUES (?, ?, ?, ",
                    now_ms!(),
                    ", ",
                    now_ms!(),
                    ") ON CONFLICT (queue, message_id) DO NOTHING"
                ))
                .bind(queue.name())
                .bind(envelope.message_id.to_string())
                .bind(envelope_json(envelope)?)
                .execute(&mut *tx)
                .await
                .or_store_error("enqueue message")?;
            }
            tx.commit()
                .await
                .or_store_error("commit enqueued messages")?;
            database.signal_queue_filled();
        }
        Ok(())
    }
}

/// Receives one queue's messages from its service database.
#[derive(Debug)]
pub struct SqliteQueueConsumer {
    queue: Queue,
    database: SqliteDatabase,
    /// Publishes seen so far: a publish between a `receive` that found nothing and the wait
    /// after it is not missed.
    changes: Mutex<watch::Receiver<u64>>,
}

#[async_trait]
impl QueueConsumer for SqliteQueueConsumer {
    fn queue(&self) -> Queue {
        self.queue
    }

    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, TransportError> {
        self.changes.lock().await.borrow_and_update();
        let rows = sqlx::query(concat!(
            "UPDATE queue_messages SET leased_until = ",
            now_ms!(),
            " + ?, deliveries = deliveries + 1 WHERE id IN (",
            "SELECT id FROM queue_messages WHERE queue = ? AND visible_at <= ",
            now_ms!(),
            " AND (leased_until IS NULL OR leased_until <= ",
            now_ms!(),
            ") ORDER BY visible_at, id LIMIT ?) ",
            "RETURNING id, envelope, attempts, deliveries"
        ))
        .bind(duration_millis(LEASE))
        .bind(self.queue.name())
        .bind(to_limit(max))
        .fetch_all(self.database.writer())
        .await
        .or_store_error("lease queue messages")?;
        let mut deliveries = Vec::with_capacity(rows.len());
        for row in &rows {
            let tag: i64 = row.get("id");
            let raw: &str = row.get("envelope");
            match serde_json::from_str::<Envelope>(raw) {
                Ok(envelope) => deliveries.push(Delivery {
                    tag,
                    envelope,
                    attempts: row.get::<u32, _>("attempts"),
                    redeliveries: row.get::<u32, _>("deliveries").saturating_sub(1),
                }),
                // No handler can ever take it, and it must not hold back its batch-mates:
                // park it at once. If parking fails, its lease expires and it comes back.
                Err(error) => {
                    let error = format!("cannot decode the envelope: {error}");
                    warn!(
                        queue = self.queue.name(),
                        error, "message is not an envelope; parking it"
                    );
                    if let Err(failure) = self.park(tag, &error).await {
                        warn!(queue = self.queue.name(), error = %failure, "cannot park an undecodable message");
                    }
                }
            }
        }
        deliveries.sort_by_key(|d| d.tag);
        Ok(deliveries)
    }

    async fn wait_for_messages(&self, timeout: Duration) {
        // Sleep until the next retry or expired lease is due, or a publish comes, whichever
        // is first: a short retry delay is not stretched to the idle timeout.
        let next_due: Option<i64> = sqlx::query_scalar(concat!(
            "SELECT MIN(MAX(visible_at, COALESCE(leased_until, 0))) - ",
            now_ms!(),
            " FROM queue_messages WHERE queue = ?"
        ))
        .bind(self.queue.name())
        .fetch_one(self.database.reader())
        .await
        .unwrap_or(None);
        let wait = match next_due {
            Some(ms) if ms <= 0 => return,
            Some(ms) => timeout.min(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            None => timeout,
        };
        let mut changes = self.changes.lock().await;
        let _ = tokio::time::timeout(wait, changes.changed()).await;
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), TransportError> {
        sqlx::query("DELETE FROM queue_messages WHERE id = ?")
            .bind(delivery.tag)
            .execute(self.database.writer())
            .await
            .or_store_error("ack message")?;
        Ok(())
    }

    async fn retry(
        &self,
        delivery: &Delivery,
        delay: Duration,
        error: &str,
        charge_attempt: bool,
    ) -> Result<(), TransportError> {
        sqlx::query(concat!(
            "UPDATE queue_messages SET visible_at = ",
            now_ms!(),
            " + ?, leased_until = NULL, attempts = attempts + ?, last_error = ? WHERE id = ?"
        ))
        .bind(duration_millis(delay))
        .bind(i64::from(charge_attempt))
        .bind(error)
        .bind(delivery.tag)
        .execute(self.database.writer())
        .await
        .or_store_error("schedule retry")?;
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), TransportError> {
        self.park(delivery.tag, error).await?;
        Ok(())
    }
}

impl SqliteQueueConsumer {
    /// Moves queue row `tag` to the dead letters with `error`, counting the delivery that
    /// failed as an attempt.
    async fn park(&self, tag: i64, error: &str) -> store::Result<()> {
        let mut tx = self
            .database
            .writer()
            .begin()
            .await
            .or_store_error("begin transaction")?;
        sqlx::query(concat!(
            "INSERT INTO dead_letters (queue, message_id, envelope, error, attempts, dead_lettered_at) ",
            "SELECT queue, message_id, envelope, ?, attempts + 1, ",
            now_ms!(),
            " FROM queue_messages WHERE id = ?"
        ))
        .bind(error)
        .bind(tag)
        .execute(&mut *tx)
        .await
        .or_store_error("park dead letter")?;
        sqlx::query("DELETE FROM queue_messages WHERE id = ?")
            .bind(tag)
            .execute(&mut *tx)
            .await
            .or_store_error("remove dead letter from queue")?;
        tx.commit().await.or_store_error("commit dead letter")
    }
}

fn parse_dead_letter_id(id: &str) -> Option<(Queue, i64)> {
    let (queue, number) = id.split_once(':')?;
    Some((Queue::from_name(queue)?, number.parse().ok()?))
}

#[async_trait]
impl DeadLetters for SqliteQueue {
    async fn list(&self) -> Result<Vec<DeadLetter>, TransportError> {
        let mut all = Vec::new();
        for queue in Queue::ALL {
            let rows = sqlx::query(
                "SELECT id, message_id, envelope, error, attempts, dead_lettered_at FROM dead_letters WHERE queue = ? ORDER BY id",
            )
            .bind(queue.name())
            .fetch_all(self.databases.get(queue).reader())
            .await
            .or_store_error("list dead letters")?;
            for row in rows {
                let dead_lettered_at = from_millis(row.get("dead_lettered_at"));
                let raw: &str = row.get("envelope");
                let envelope = serde_json::from_str::<Envelope>(raw).unwrap_or_else(|_| {
                    let message_id: &str = row.get("message_id");
                    DeadLetter::undecodable_body(
                        raw.as_bytes(),
                        message_id.parse().ok(),
                        None,
                        dead_lettered_at,
                    )
                });
                all.push(DeadLetter {
                    id: format!("{}:{}", queue.name(), row.get::<i64, _>("id")),
                    queue,
                    envelope,
                    error: row.get("error"),
                    attempts: row.get::<u32, _>("attempts"),
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
        let mut tx = database
            .writer()
            .begin()
            .await
            .or_store_error("begin transaction")?;
        // A fresh message id would defeat the inbox; the same id is fine, because a dead
        // letter was never handled, so the inbox has no record of it.
        let moved = sqlx::query(concat!(
            "INSERT INTO queue_messages (queue, message_id, envelope, visible_at, enqueued_at) ",
            "SELECT queue, message_id, envelope, ",
            now_ms!(),
            ", ",
            now_ms!(),
            " FROM dead_letters WHERE id = ? ON CONFLICT (queue, message_id) DO NOTHING"
        ))
        .bind(number)
        .execute(&mut *tx)
        .await
        .or_store_error("replay dead letter")?;
        let deleted = sqlx::query("DELETE FROM dead_letters WHERE id = ?")
            .bind(number)
            .execute(&mut *tx)
            .await
            .or_store_error("remove replayed dead letter")?;
        tx.commit().await.or_store_error("commit replay")?;
        database.signal_queue_filled();
        Ok(moved.rows_affected() + deleted.rows_affected() > 0)
    }

    async fn discard(&self, id: &str) -> Result<bool, TransportError> {
        let Some((queue, number)) = parse_dead_letter_id(id) else {
            return Ok(false);
        };
        let deleted = sqlx::query("DELETE FROM dead_letters WHERE id = ?")
            .bind(number)
            .execute(self.databases.get(queue).writer())
            .await
            .or_store_error("discard dead letter")?;
        Ok(deleted.rows_affected() > 0)
    }
}
