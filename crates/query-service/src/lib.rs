//! The query service.

pub mod ports;
pub mod view;
