//! PostgreSQL adapters, the scaled-out storage: every store port of every service, each service
//! in its own schema (`order_service`, `inventory_service`, ...) of one database, holding the
//! service's state, its inbox and its outbox.
//!
//! Behaviour is the same as the SQLite adapters' (the shared contract suite in `testkit` checks
//! both), with what many processes sharing one database need on top: stock and event appends
//! are safe under concurrent writers (conditional updates, unique constraints, CHECKs), the
//! outbox can be drained by several relay replicas at once (rows are claimed, never handed to
//! two relays at a time), and a commit wakes relays in other processes (`LISTEN` / `NOTIFY`).
//!
//! Deadlines, leases and timestamps use the database's clock, never a process's. Queries are
//! checked at run time: building this crate never needs a live database.

/// The database clock in unix milliseconds, as SQL. Deadlines and claims are measured on it,
/// never on a process's clock. `clock_timestamp()`, not `now()`: a long transaction must not
/// see time stand still.
macro_rules! now_ms {
    () => {
        "(floor(extract(epoch from clock_timestamp()) * 1000))::bigint"
    };
}

mod analytics;
mod audit;
mod database;
mod error;
mod inventory;
mod notification;
mod order;
mod outbox;
mod payment;
mod query;
mod unit_of_work;

pub use analytics::PgAnalyticsStore;
pub use database::{PgDatabase, PoolSettings, migrate_all};
pub use inventory::PgInventoryStore;
pub use notification::PgNotificationStore;
pub use order::PgOrderStore;
pub use outbox::PgOutbox;
pub use payment::PgPaymentStore;
pub use query::PgQueryStore;
