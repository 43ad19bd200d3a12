//! The order service's storage port: the event store, the saga's deadlines, the catalog, the
//! idempotency keys and the payment tokens kept until their charge.

use std::time::Duration;

use crate::{Result, UnitOfWork};
use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::{Money, OrderId, Sku};
use order_domain::saga::SagaStep;

/// A stored event of an order's stream.
#[derive(Clone, Debug)]
pub struct RecordedEvent {
    /// 1 for the first event of the stream.
    pub version: u64,
    pub envelope: Envelope,
}

/// A catalog entry. Prices always come from here, never from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Product {
    pub sku: Sku,
    pub name: String,
    pub price: Money,
}

/// A saga deadline that has passed, by the database's clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueDeadline {
    pub order_id: OrderId,
    pub step: SagaStep,
}

/// An `Idempotency-Key` as one client sent it: the same key sent by two clients (two
/// customers, or anonymous callers for two addresses) is two keys.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    /// Whose keys this one is among, e.g. `customer:ada@example.com`.
    pub scope: String,
    pub key: String,
}

/// What an earlier request with the same `Idempotency-Key` was and got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotentRequest {
    pub request_hash: String,
    pub order_id: OrderId,
}

/// The order service's storage: the event store, the saga's deadlines, the catalog and the
/// idempotency keys, all in the service's own database.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Starts a transaction.
    ///
    /// # Errors
    /// [`crate::StoreError::Unavailable`] when the database cannot be reached.
    async fn begin(&self) -> Result<Box<dyn OrderTx>>;

    /// The order's events in stream order; empty for an unknown order.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn load(&self, order_id: OrderId) -> Result<Vec<RecordedEvent>>;

    /// The catalog, ordered by sku.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn products(&self) -> Result<Vec<Product>>;

    /// Deadlines that have passed, at most `max`.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn due_deadlines(&self, max: usize) -> Result<Vec<DueDeadline>>;

    /// Pushes every pending deadline back by `by`; returns how many there were. The deadline
    /// timer does, by the time its own process could not work, before firing anything.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the update fails (then nothing moved).
    async fn postpone_deadlines(&self, by: Duration) -> Result<u64>;

    /// How many orders the saga is waiting on: placed, not yet completed or cancelled. Each
    /// has exactly one pending deadline, so this counts the deadlines. The order service's
    /// admission control samples it a few times a second.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn orders_in_flight(&self) -> Result<u64>;

    /// The request first sent with `key`, if any, unless that was `ttl` ago or more (by the
    /// database's clock): an expired key is as good as never sent.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn idempotent_request(
        &self,
        key: &IdempotencyKey,
        ttl: Duration,
    ) -> Result<Option<IdempotentRequest>>;

    /// Deletes the idempotency keys sent `ttl` ago or more; returns how many.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the delete fails.
    async fn purge_idempotency_keys(&self, ttl: Duration) -> Result<u64>;
}

/// One transaction on the order service's database.
#[async_trait]
pub trait OrderTx: UnitOfWork {
    /// Appends events to an order's stream if its current version is `expected_version`.
    ///
    /// # Errors
    /// [`crate::StoreError::Conflict`] when the stream has moved on: reload and decide again.
    async fn append(
        &mut self,
        order_id: OrderId,
        expected_version: u64,
        events: &[Envelope],
    ) -> Result<()>;

    /// Sets the order's one deadline to `step`, due `after` from now by the database's clock.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn set_deadline(
        &mut self,
        order_id: OrderId,
        step: SagaStep,
        after: Duration,
    ) -> Result<()>;

    /// Removes the order's deadline; with `only`, only if it is still for that step (a timer
    /// that fired must not remove the deadline of a step that began meanwhile).
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn clear_deadline(&mut self, order_id: OrderId, only: Option<SagaStep>) -> Result<()>;

    /// Remembers which order a request with `key` created; a key that expired (sent `ttl` ago
    /// or more) is taken over.
    ///
    /// # Errors
    /// [`crate::StoreError::Conflict`] when the key is taken and has not expired.
    async fn remember_request(
        &mut self,
        key: &IdempotencyKey,
        request: &IdempotentRequest,
        ttl: Duration,
    ) -> Result<()>;

    /// Keeps the customer's payment token for the order until the charge: the order's events
    /// hold only its reference.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn keep_payment_token(&mut self, order_id: OrderId, token: &str) -> Result<()>;

    /// Takes the order's payment token out of keeping (for its charge, or because the order
    /// ended without one); `None` when none is kept.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read or delete fails.
    async fn take_payment_token(&mut self, order_id: OrderId) -> Result<Option<String>>;

    /// Adds or updates a catalog entry.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the write fails.
    async fn upsert_product(&mut self, product: &Product) -> Result<()>;

    /// The writes that follow a decision's events, in one round trip where the store can:
    /// `outgoing` enqueued (in order), the payment token kept, the deadline changed. By
    /// default, [`UnitOfWork::enqueue_all`], [`OrderTx::keep_payment_token`] and
    /// [`OrderTx::set_deadline`] or [`OrderTx::clear_deadline`] in turn.
    ///
    /// # Errors
    /// [`crate::StoreError`] when a write fails.
    async fn follow_decision(
        &mut self,
        order_id: OrderId,
        writes: &DecisionWrites<'_>,
    ) -> Result<()> {
        self.enqueue_all(writes.outgoing).await?;
        if let Some(token) = writes.keep_token {
            self.keep_payment_token(order_id, token).await?;
        }
        match writes.deadline {
            DeadlineChange::Keep => Ok(()),
            DeadlineChange::Set { step, after } => self.set_deadline(order_id, step, after).await,
            DeadlineChange::Clear { only } => self.clear_deadline(order_id, only).await,
        }
    }
}

/// What [`OrderTx::follow_decision`] writes for one order.
#[derive(Clone, Copy, Debug)]
pub struct DecisionWrites<'a> {
    /// Messages to enqueue, in order: the decision's events and commands.
    pub outgoing: &'a [Envelope],
    /// A payment token to keep until the charge.
    pub keep_token: Option<&'a str>,
    pub deadline: DeadlineChange,
}

/// How a decision changes the order's deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeadlineChange {
    Keep,
    /// As [`OrderTx::set_deadline`].
    Set {
        step: SagaStep,
        after: Duration,
    },
    /// As [`OrderTx::clear_deadline`].
    Clear {
        only: Option<SagaStep>,
    },
}
