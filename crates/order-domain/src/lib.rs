//! The order's rules, pure: the event-sourced [`Order`] aggregate (`decide` / `evolve`) and the
//! saga's decisions ([`saga::react`]).
//!
//! Nothing here does I/O, reads a clock or draws a random number: times and ids arrive inside
//! commands. The aggregate's events are the published `order.*` messages of `contracts`, so the
//! event log is readable by every consumer and old versions are upcast on read.

mod error;
mod order;
pub mod saga;

pub use error::OrderError;
pub use order::{Order, OrderCommand, OrderEvent, OrderStatus, PricedLine, decide, evolve, replay};

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod order_tests;
#[cfg(test)]
mod saga_compensation_tests;
#[cfg(test)]
mod saga_properties;
#[cfg(test)]
mod saga_tests;
