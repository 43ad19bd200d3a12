//! The analytics service: consumes the analytics stream (every `order.*`, `inventory.*` and
//! `payment.*` event) into rolling counters per minute and per hour, and answers the
//! analytics API from them.
//!
//! It owns the analytics database (through [`store::analytics::AnalyticsStore`]), its own
//! queue and consumers: it never calls another service and nothing waits for it, so when it
//! is slow or down only its queue grows. Each event is kept, recorded in the inbox and counted
//! in one transaction (a redelivered event changes nothing); every event adds its own
//! increments at its own time, so the counters do not depend on arrival order
//! ([`analytics_domain`]). Every kept event is also archived once, in files in blob storage
//! ([`archive`]).

pub mod archive;
mod error;
mod reads;
mod stream;

pub use error::{Error, Result};

use std::sync::Arc;

use store::analytics::AnalyticsStore;

/// The analytics service on its store.
#[derive(Clone)]
pub struct AnalyticsService {
    pub(crate) store: Arc<dyn AnalyticsStore>,
}

impl AnalyticsService {
    pub fn new(store: Arc<dyn AnalyticsStore>) -> Self {
        Self { store }
    }
}

impl std::fmt::Debug for AnalyticsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyticsService").finish_non_exhaustive()
    }
}
