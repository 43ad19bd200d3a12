//! The embedded transport: each consuming service's queue is a table in its own database.
//!
//! Publishing inserts a message into the queue table of every subscriber (ignoring one that is
//! already there, so a relay that publishes a batch twice changes nothing). Receiving leases
//! due messages for a while; a consumer that dies leaves its lease to expire, and the message
//! comes back. Same semantics as the RabbitMQ transport: at-least-once, retries with backoff,
//! a dead-letter store with the error and attempt count.
//!
//! An acknowledgement does not write: the handled message's row is deleted in the transaction
//! of the queue's next receive (or before its consumers go idle), so a busy queue pays one
//! transaction per batch rather than one per message. Until then the row stays leased; a crash
//! before the delete commits (kill -9) brings the message back once, and the handler's inbox
//! sees it was handled.

use std::time::Duration;

use async_trait::async_trait;
use contracts::{Envelope, Queue, subscribers};
use rusqlite::{Connection, params};
use store_sql::value::{duration_millis, envelope_json, to_limit};
use tokio::sync::{Mutex, watch};
use tracing::warn;
use transport::{Delivery, Publisher, QueueConsumer, TransportError};

use crate::Databases;
use crate::database::{SqliteDatabase, delete_queue_rows};
use crate::rows::{execute, optional_scalar, scalar};

/// How long a received message stays invisible to other consumers. Longer than any handler.
const LEASE: Duration = Duration::from_secs(60);

/// The SQL-queue transport across every service database of one data directory.
#[derive(Clone, Debug)]
pub struct SqliteQueue {
    pub(crate) databases: Databases,
}

impl SqliteQueue {
    pub fn new(databases: Databases) -> Self {
        Self { databases }
    }

    /// Releases every lease: in embedded mode one process owns the data directory, so leases
    /// left by a previous run (killed mid-message) are dead. Handled messages of this run are
    /// deleted first: they are not to come back.
    ///
    /// # Errors
    /// When a database cannot be written.
    pub async fn release_stale_leases(&self) -> store::Result<()> {
        for database in self.databases.all() {
            database.delete_handled().await?;
            database
                .write("release stale leases", |connection| {
                    execute(
                        connection,
                        "UPDATE queue_messages SET leased_until = NULL WHERE leased_until IS NOT NULL",
                        [],
                    )
                })
                .await?;
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

    /// Messages waiting in `queue` (leased ones included, handled ones not).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn depth(&self, queue: Queue) -> store::Result<u64> {
        let database = self.databases.get(queue);
        database.delete_handled().await?;
        let count: i64 = database.read("count queue", |connection| {
            scalar(
                connection,
                "SELECT COUNT(*) FROM queue_messages WHERE queue = ?",
                [queue.name()],
            )
        })?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}

#[async_trait]
impl Publisher for SqliteQueue {
    async fn publish(&self, batch: &[Envelope]) -> Result<(), TransportError> {
        for queue in Queue::ALL {
            let messages = batch
                .iter()
                .filter(|e| subscribers(&e.message_type).contains(&queue))
                .map(|envelope| Ok((envelope.message_id.to_string(), envelope_json(envelope)?)))
                .collect::<store::Result<Vec<_>>>()?;
            if messages.is_empty() {
                continue;
            }
            let database = self.databases.get(queue);
            database
                .write("enqueue messages", |connection| {
                    for (message_id, envelope) in &messages {
                        execute(
                            connection,
                            concat!(
                                "INSERT INTO queue_messages (queue, message_id, envelope, visible_at, enqueued_at) ",
                                "VALUES (?, ?, ?, ",
                                now_ms!(),
                                ", ",
                                now_ms!(),
                                ") ON CONFLICT (queue, message_id) DO NOTHING"
                            ),
                            params![queue.name(), message_id, envelope],
                        )?;
                    }
                    Ok(())
                })
                .await?;
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

/// A leased queue row: its id, envelope text, attempts and deliveries.
type Leased = (i64, String, u32, u32);

/// Leases up to `max` of `queue`'s due messages.
fn lease(connection: &Connection, queue: Queue, max: usize) -> rusqlite::Result<Vec<Leased>> {
    connection
        .prepare_cached(concat!(
            "UPDATE queue_messages SET leased_until = ",
            now_ms!(),
            " + ?, deliveries = deliveries + 1 WHERE id IN (",
            "SELECT id FROM queue_messages WHERE queue = ? AND visible_at <= ",
            now_ms!(),
            " AND (leased_until IS NULL OR leased_until <= ",
            now_ms!(),
            ") ORDER BY visible_at, id LIMIT ?) ",
            "RETURNING id, envelope, attempts, deliveries"
        ))?
        .query_map(
            params![duration_millis(LEASE), queue.name(), to_limit(max)],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )?
        .collect()
}

#[async_trait]
impl QueueConsumer for SqliteQueueConsumer {
    fn queue(&self) -> Queue {
        self.queue
    }

    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, TransportError> {
        self.changes.lock().await.borrow_and_update();
        let handled = self.database.take_handled();
        let leased = self
            .database
            .write("lease queue messages", |connection| {
                delete_queue_rows(connection, &handled)?;
                lease(connection, self.queue, max)
            })
            .await;
        let leased = match leased {
            Ok(leased) => leased,
            Err(error) => {
                self.database.still_handled(handled);
                return Err(error.into());
            }
        };
        let mut deliveries = Vec::with_capacity(leased.len());
        for (tag, raw, attempts, deliveries_so_far) in leased {
            match serde_json::from_str::<Envelope>(&raw) {
                Ok(envelope) => deliveries.push(Delivery {
                    tag,
                    envelope,
                    attempts,
                    redeliveries: deliveries_so_far.saturating_sub(1),
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
        // Nothing to receive: the handled messages are deleted now rather than at the next
        // receive, which may be a while away.
        if let Err(error) = self.database.delete_handled().await {
            warn!(queue = self.queue.name(), %error, "cannot delete handled messages");
        }
        // Sleep until the next retry or expired lease is due, or a publish comes, whichever
        // is first: a short retry delay is not stretched to the idle timeout.
        let next_due: Option<i64> = self
            .database
            .read("find the next due message", |connection| {
                optional_scalar(
                    connection,
                    concat!(
                        "SELECT MIN(MAX(visible_at, COALESCE(leased_until, 0))) - ",
                        now_ms!(),
                        " FROM queue_messages WHERE queue = ?"
                    ),
                    [self.queue.name()],
                )
            })
            .ok()
            .flatten()
            .flatten();
        let wait = match next_due {
            Some(ms) if ms <= 0 => return,
            Some(ms) => timeout.min(Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            None => timeout,
        };
        let mut changes = self.changes.lock().await;
        let _ = tokio::time::timeout(wait, changes.changed()).await;
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), TransportError> {
        self.database.handled(delivery.tag);
        Ok(())
    }

    async fn retry(
        &self,
        delivery: &Delivery,
        delay: Duration,
        error: &str,
        charge_attempt: bool,
    ) -> Result<(), TransportError> {
        self.database
            .write("schedule retry", |connection| {
                execute(
                    connection,
                    concat!(
                        "UPDATE queue_messages SET visible_at = ",
                        now_ms!(),
                        " + ?, leased_until = NULL, attempts = attempts + ?, last_error = ? WHERE id = ?"
                    ),
                    params![
                        duration_millis(delay),
                        i64::from(charge_attempt),
                        error,
                        delivery.tag
                    ],
                )
            })
            .await?;
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
        self.database
            .write("park dead letter", |connection| {
                execute(
                    connection,
                    concat!(
                        "INSERT INTO dead_letters (queue, message_id, envelope, error, attempts, dead_lettered_at) ",
                        "SELECT queue, message_id, envelope, ?, attempts + 1, ",
                        now_ms!(),
                        " FROM queue_messages WHERE id = ?"
                    ),
                    params![error, tag],
                )?;
                delete_queue_rows(connection, &[tag])
            })
            .await
    }
}
