//! SQLite adapters, the embedded default: one database file per service under the data
//! directory, each holding the service's state, its inbox and outbox, and its incoming queue.
//!
//! Each database has one writer connection (SQLite allows one writer at a time; queueing
//! writers on a lock beats spinning on `SQLITE_BUSY`), a few readers (WAL lets them read
//! while the writer writes) and a checkpointing thread with a connection of its own.
//! Statements run inline on the caller's task, through each connection's statement cache:
//! SQLite answers in microseconds, less than a hop to another thread would cost.
//! `synchronous = NORMAL` in WAL mode survives a process crash (kill -9) without losing a
//! committed transaction; only a power loss can cost the last ones.

/// The database clock in unix milliseconds, as SQL. Deadlines and leases are measured on it,
/// never on a process's clock.
macro_rules! now_ms {
    () => {
        "CAST(unixepoch('subsec') * 1000 AS INTEGER)"
    };
}

mod analytics;
mod audit;
mod connection;
mod database;
mod databases;
mod dead_letters;
mod error;
mod group;
mod inventory;
mod migrate;
mod notification;
mod order;
mod outbox;
mod payment;
mod private_files;
mod query;
mod queue;
mod rows;
mod unit_of_work;

pub use analytics::SqliteAnalyticsStore;
pub use database::SqliteDatabase;
pub use databases::Databases;
pub use inventory::SqliteInventoryStore;
pub use notification::SqliteNotificationStore;
pub use order::SqliteOrderStore;
pub use outbox::SqliteOutbox;
pub use payment::SqlitePaymentStore;
pub use private_files::create_private_dir;
pub use query::SqliteQueryStore;
pub use queue::{SqliteQueue, SqliteQueueConsumer};
