//! The query service: the read model (CQRS) of orders.
//!
//! It keeps every `order.*` event it receives and folds each order's events into an
//! [`OrderView`](query_domain::OrderView) that the read API lists, searches and pages through. It owns
//! the query database (through [`store::query::QueryStore`]) and answers reads only from it; it never
//! asks another service and never decides anything about an order. The views can always be
//! rebuilt from the kept events.

pub mod cache;
mod error;
mod projection;
mod service;

pub use error::{Error, Result};
pub use service::QueryService;
