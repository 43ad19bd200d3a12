//! The messages Orderflow's services exchange, and the vocabulary they share.
//!
//! This crate owns the wire format: the [`Envelope`], every command and event with its
//! `schema_version`, the upcasters that read old versions, the routing table that says which
//! service consumes which message, and the validated value types (`OrderId`, `Sku`, `Quantity`,
//! `Money`, `Email`). It never does I/O.

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
mod envelope;
#[cfg(test)]
mod envelope_properties;
mod messages;
mod topology;
mod upcast;
pub mod value;

pub use envelope::{Envelope, EnvelopeBuilder};
pub use messages::*;
pub use topology::{Queue, is_streamed, subscribers};
pub use upcast::DecodeError;
