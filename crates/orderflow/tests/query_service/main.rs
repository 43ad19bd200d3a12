//! The query service against its real SQLite read model: one test binary.

mod helpers;
mod listing;
mod projection;
mod rebuild;
