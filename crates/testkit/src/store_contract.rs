//! The store contract suite: what every adapter of the store ports (SQLite, PostgreSQL) must do,
//! as generic async functions over the ports, so that both adapters run the very same checks.
//!
//! Each function checks one behaviour and builds what it needs through the ports only, on an
//! empty database of its own; it panics (with what was expected) when the adapter misbehaves.
//! The adapters' test files run every function, under the function's own name:
//!
//! - [`messaging`]: the inbox records each message once, the outbox hands out only committed
//!   messages in commit order until they are published, and a commit wakes a waiting relay;
//! - [`order`]: the event store appends at an expected version (exactly one of concurrent
//!   appends wins), saga deadlines fall due by the database's clock, idempotency keys, catalog;
//! - [`inventory`]: reservations are all-or-nothing, concurrent ones never oversell (nor
//!   deadlock), a transaction about an order waits for one already deciding about it, release
//!   and commit move units, adjustments never go below zero, stock is always conserved;
//! - [`payment`]: one payment per order, even under concurrent charges;
//! - [`notification`]: one notification per causing message;
//! - [`query`]: kept events are deduplicated, a fold of an order sees the events of one that
//!   raced it, views are listed by filter, text and cursor.
//!
//! Functions that spawn concurrent writers need a multi-threaded runtime to mean anything.

use std::sync::Arc;

use async_trait::async_trait;
use contracts::{Envelope, Message, StockReserved};
use inventory_service::ports::InventoryStore;
use notification_service::ports::NotificationStore;
use order_service::ports::OrderStore;
use payment_service::ports::PaymentStore;
use query_service::ports::QueryStore;
use store::UnitOfWork;
use time::OffsetDateTime;
use uuid::Uuid;

pub mod inventory;
pub mod messaging;
pub mod notification;
pub mod order;
pub mod payment;
pub mod query;

/// Starts a [`UnitOfWork`] on one service's database, whichever service it is: lets the inbox
/// and outbox checks run on every service's store.
#[async_trait]
pub trait UnitOfWorkSource: Send + Sync {
    /// # Errors
    /// [`store::StoreError`] when no transaction can be started.
    async fn begin_unit_of_work(&self) -> store::Result<Box<dyn UnitOfWork>>;
}

macro_rules! unit_of_work_source {
    ($($store:ident),*) => {$(
        #[async_trait]
        impl UnitOfWorkSource for Arc<dyn $store> {
            async fn begin_unit_of_work(&self) -> store::Result<Box<dyn UnitOfWork>> {
                let tx: Box<dyn UnitOfWork> = self.begin().await?;
                Ok(tx)
            }
        }
    )*};
}

unit_of_work_source!(
    OrderStore,
    InventoryStore,
    PaymentStore,
    NotificationStore,
    QueryStore
);

/// Some message about `order_id`; what it says does not matter to a store.
fn message_about(order_id: Uuid) -> Envelope {
    Envelope::build(&Message::from(StockReserved { order_id })).at(OffsetDateTime::now_utc())
}

/// Asserts that `result` is a [`store::StoreError::Conflict`].
fn assert_conflict<T: std::fmt::Debug>(result: store::Result<T>, what: &str) {
    match result {
        Err(store::StoreError::Conflict) => {}
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}
