//! Stock rules, pure: a product's stock level and an order's reservation.
//!
//! Conservation: `available + reserved + sold == initial + restocked` holds after every
//! operation, and `available` never goes below zero. The SQL adapters enforce the same rules
//! with conditional updates and CHECK constraints; this crate states them and is their model.

mod reservation;
mod stock;

pub use reservation::{OnCommit, OnRelease, OnReserve, ReservationStatus};
pub use stock::{InsufficientStock, StockError, StockLevel};

#[cfg(test)]
mod reservation_tests;
#[cfg(test)]
mod stock_properties;
#[cfg(test)]
mod stock_tests;
