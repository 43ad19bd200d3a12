//! The storage ports: what every service needs from its database, and the types they speak.
//!
//! Shared by all: the unit of work that writes a state change, its inbox record and its outbox
//! messages in one transaction, and the outbox reader the relay drains. Then one module per
//! service with that service's store (and cache) port on top of [`UnitOfWork`]. Services depend
//! on these traits; adapters (SQLite, PostgreSQL, Redis) implement them. Nothing here knows a
//! database. Beside them, [`audit`]: the reads `orderflow verify` checks the invariants with.

pub mod analytics;
pub mod audit;
pub mod inventory;
pub mod notification;
pub mod order;
pub mod payment;
pub mod query;

use std::time::Duration;

use async_trait::async_trait;
use contracts::Envelope;
use uuid::Uuid;

/// What a caller of a store port branches on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Someone else changed the same thing first (optimistic concurrency): reload and retry.
    #[error("concurrent update conflict")]
    Conflict,
    /// The database cannot be reached or is busy: not the caller's fault, retry later.
    #[error("storage unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// One local transaction: a state change together with its inbox record and outbox messages.
///
/// Dropping it without [`UnitOfWork::commit`] rolls everything back.
#[async_trait]
pub trait UnitOfWork: Send {
    /// Records that `message_id` has been handled. Returns `false` if it already was: the
    /// caller then drops the transaction and acknowledges the duplicate.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn mark_handled(&mut self, message_id: Uuid) -> Result<bool>;

    /// Records that each of `message_ids` has been handled: one answer each, in order, `false`
    /// for a message handled already (or earlier in the same list). An adapter that can write
    /// them in one statement does.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn mark_all_handled(&mut self, message_ids: &[Uuid]) -> Result<Vec<bool>> {
        let mut fresh = Vec::with_capacity(message_ids.len());
        for message_id in message_ids {
            fresh.push(self.mark_handled(*message_id).await?);
        }
        Ok(fresh)
    }

    /// Adds a message to the outbox; the relay publishes it after commit.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn enqueue(&mut self, envelope: &Envelope) -> Result<()>;

    /// Adds several messages to the outbox, in order; an adapter that can write them in one
    /// statement does.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn enqueue_all(&mut self, envelopes: &[Envelope]) -> Result<()> {
        for envelope in envelopes {
            self.enqueue(envelope).await?;
        }
        Ok(())
    }

    /// Makes every change of this transaction durable at once.
    ///
    /// # Errors
    /// [`StoreError`] when the commit fails; nothing was written then.
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// A message waiting in an outbox.
#[derive(Clone, Debug)]
pub struct OutboxEntry {
    pub id: i64,
    pub envelope: Envelope,
}

/// The relay's view of one service's outbox.
#[async_trait]
pub trait OutboxReader: Send + Sync {
    /// The oldest unpublished messages, in commit order, at most `max`.
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn pending(&self, max: usize) -> Result<Vec<OutboxEntry>>;

    /// Marks messages published; called only after the transport confirmed them.
    ///
    /// # Errors
    /// [`StoreError`] when the write fails.
    async fn mark_published(&self, ids: &[i64]) -> Result<()>;

    /// Marks `published` published, then returns the oldest unpublished messages, at most
    /// `max`, never one of `published`: what a relay does between one batch and the next. A
    /// store that can does both in one round trip; by default it is the two calls.
    ///
    /// # Errors
    /// [`StoreError`] when the write or the read fails; `published` may then still be
    /// unmarked, and the caller must mark them again.
    async fn mark_published_then_pending(
        &self,
        published: &[i64],
        max: usize,
    ) -> Result<Vec<OutboxEntry>> {
        self.mark_published(published).await?;
        self.pending(max).await
    }

    /// Waits until a transaction with outbox messages commits, or `timeout` passes.
    async fn wait_for_new(&self, timeout: Duration);

    /// How many messages wait to be published.
    ///
    /// # Errors
    /// [`StoreError`] when the read fails.
    async fn lag(&self) -> Result<u64>;
}
