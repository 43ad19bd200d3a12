//! The read model's pure rules: the order view as the read API shows it, the fold that builds it
//! from an order's events, and the cursor that pages through the newest-first listing.
//!
//! No I/O, no clock, no randomness: the query service stores what this crate computes.

mod view;

pub use view::{Cursor, InvalidCursor, OrderView, OrderViewItem, SagaHistoryEntry, project};

#[cfg(test)]
mod view_tests;
