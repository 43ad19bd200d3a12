//! A typed HTTP client of Orderflow's public API (`/api/v1`): one method per route, taking
//! and returning the wire types of the `api` crate, the same types the gateway serializes, so
//! client and server cannot disagree about a body.
//!
//! Its errors ([`ClientError`]) name what a caller branches on: no answer at all, a
//! problem+json answer (with its typed body), or an answer it cannot read.
//!
//! It owns no state beyond its connection pool, and it never retries: whether a call may be
//! repeated is the caller's business (placing an order is safe to repeat only under an
//! Idempotency-Key). It speaks HTTP with the workspace's reqwest features; TLS, which the
//! archive's Azure client turns on for every build that holds it, is rustls on ring, and the
//! client installs ring as the process's provider when none is.

mod answer;
mod client;
mod error;
mod routes;
mod updates;

pub use client::ApiClient;
pub use error::{BuildError, ClientError, Result};
pub use reqwest::{StatusCode, Url};
pub use routes::Placement;
pub use updates::UpdateStream;
