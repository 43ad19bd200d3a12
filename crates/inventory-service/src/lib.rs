//! The inventory service.

pub mod ports;
