//! Audit reads: what `orderflow verify` needs to check the invariants of DESIGN.md §6 across
//! every service's database, and no service needs to run.
//!
//! Kept apart from the services' ports so that a service (or a test fake of its port) never
//! has to implement them. They only read; ages and deadlines are measured on the database's
//! clock, like every other time the stores compare. The payments come from
//! [`crate::payment::PaymentStore::payments`].

use async_trait::async_trait;
use contracts::Envelope;
use inventory_domain::ReservationStatus;
use order_domain::saga::SagaStep;
use query_domain::OrderView;
use time::Duration;
use uuid::Uuid;

use crate::Result;
use crate::order::RecordedEvent;

/// One order's stream as the event store holds it.
#[derive(Clone, Debug)]
pub struct AuditedStream {
    pub order_id: Uuid,
    /// In stream order.
    pub events: Vec<RecordedEvent>,
    /// How long ago its last event was recorded, by the database's clock.
    pub quiet_for: Duration,
}

/// A saga deadline that has not fired (or not been cleared) yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingDeadline {
    pub order_id: Uuid,
    pub step: SagaStep,
    /// How long ago it fell due by the database's clock; negative while it is still ahead.
    pub overdue_by: Duration,
}

/// A product's stock counters as stored, signed: an audit must see a value the domain's types
/// could not hold (a negative count).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StockCounters {
    pub sku: String,
    pub available: i64,
    pub reserved: i64,
    pub sold: i64,
    pub initial: i64,
    pub restocked: i64,
}

/// An order's reservation and where it stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReservationRecord {
    pub order_id: Uuid,
    pub status: ReservationStatus,
}

/// What the read model holds for one order: the events it kept and the view it saved.
#[derive(Clone, Debug, PartialEq)]
pub struct ReadModelEntry {
    pub order_id: Uuid,
    /// Every event kept for the order, in message id order.
    pub events: Vec<Envelope>,
    /// The saved view; `None` while no `order.placed` was kept.
    pub view: Option<OrderView>,
}

/// Audit reads of the order service's database.
#[async_trait]
pub trait OrderAudit: Send + Sync {
    /// Up to `max` order streams, with every event, in order id order, starting after `after`
    /// (from the first when `None`): page through them by passing the last id seen.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn streams(&self, after: Option<Uuid>, max: usize) -> Result<Vec<AuditedStream>>;

    /// Every pending saga deadline, due or not.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn pending_deadlines(&self) -> Result<Vec<PendingDeadline>>;
}

/// Audit reads of the inventory service's database.
#[async_trait]
pub trait InventoryAudit: Send + Sync {
    /// Every product's counters, ordered by sku.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn stock_counters(&self) -> Result<Vec<StockCounters>>;

    /// Every reservation, ordered by order id.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn reservations(&self) -> Result<Vec<ReservationRecord>>;
}

/// Audit reads of the query service's database.
#[async_trait]
pub trait QueryAudit: Send + Sync {
    /// Up to `max` orders the read model knows (kept events or a saved view), in order id
    /// order, starting after `after`: page through them by passing the last id seen.
    ///
    /// # Errors
    /// [`crate::StoreError`] when the read fails.
    async fn read_model(&self, after: Option<Uuid>, max: usize) -> Result<Vec<ReadModelEntry>>;
}
