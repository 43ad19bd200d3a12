//! The acceptance scenarios of the embedded mode, checked from outside over HTTP against the
//! real application (SQLite files in a temporary directory, port 0), plus the crash test that
//! kills the real binary.

mod admission;
mod analytics;
#[path = "../support/archive_cli.rs"]
mod archive_cli;
mod bench;
mod catalog;
mod cli;
mod client;
mod crash;
mod dead_letters;
mod edge;
mod email;
mod helpers;
mod identity;
mod orders;
mod replicas;
mod saga;
mod stored_tokens;
mod traces;
mod validation;
mod wire;
