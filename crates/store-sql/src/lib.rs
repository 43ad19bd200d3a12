//! What the SQL adapters (`store-sqlite`, `store-postgres`) share, so that they differ only in
//! their dialect: SQL text, placeholders, pool types and which error codes mean "not now".
//!
//! Here: columns mapped to and from the ports' types ([`value`]); rows read by column name
//! ([`row`]) into those types, in [`messaging`] and one module per service as in `store`; the
//! read model's search text, LIKE escaping and list query ([`query`]); and the translation of
//! driver errors into [`store::StoreError`] ([`error`]); and which migration each service's
//! database runs ([`migrations`]); and the rows of the audit reads ([`audit`]).
//!
//! It never talks to a database: nothing here opens a connection or runs a statement, and it
//! names no SQL dialect. It uses only `sqlx`'s database-agnostic API (`Row`, `QueryBuilder`,
//! `Error`, `Migrator`).

pub mod analytics;
pub mod audit;
pub mod error;
#[cfg(test)]
mod fake;
pub mod inventory;
pub mod messaging;
pub mod migrations;
pub mod notification;
pub mod order;
pub mod payment;
pub mod query;
pub mod row;
pub mod value;

pub use error::{corrupt, store_error};
pub use row::SqlRow;
