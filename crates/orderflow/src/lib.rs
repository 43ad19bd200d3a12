//! The `orderflow` binary's library: configuration, the composition of every service into one
//! process (the embedded mode), the CLI and its HTTP client.
//!
//! `main` is thin; tests start the same [`embedded::Embedded`] application on port 0.

pub mod archive;
pub mod bench;
pub mod cli;
pub mod client;
mod composition;
pub mod config;
pub mod data_dir_lock;
pub mod embedded;
mod http;
pub mod identity;
mod readiness;
pub mod scaled;
pub mod seed;
mod supervisor;
pub mod telemetry;
pub mod tls;
pub mod verify;
