//! The notification service.

pub mod ports;
