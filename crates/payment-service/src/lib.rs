//! The payment service.

pub mod ports;
