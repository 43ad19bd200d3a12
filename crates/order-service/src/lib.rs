//! The order service.

pub mod ports;
