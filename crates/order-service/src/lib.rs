//! The order service: places orders, owns the event-sourced Order aggregate and the catalog,
//! and runs the order saga as a process manager with a deadline on every step.
//!
//! It talks to storage only through [`store::order::OrderStore`] and to other services only through
//! messages written to its outbox in the same transaction as its events.

pub mod admission;
mod app;
pub mod catalog;

use std::sync::Arc;
use std::time::Duration;

pub use admission::monitor::run_admission_monitor;
pub use admission::{AdmissionSettings, AdmissionStatus, InFlightLimit, Overload};
pub use app::cancel_order::CancelError;
pub use app::idempotency::run_idempotency_purge;
pub use app::order_request::{OrderRequest, RequestedLine};
pub use app::place_order::{DEFAULT_PAYMENT_TOKEN, PlaceOrderError, Placed};
pub use app::saga_runner::SagaError;
pub use app::timers::run_deadline_timer;

use store::order::OrderStore;

/// How long each saga step may wait for its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SagaDeadlines {
    pub stock: Duration,
    pub payment: Duration,
}

impl Default for SagaDeadlines {
    fn default() -> Self {
        Self {
            stock: Duration::from_secs(30),
            payment: Duration::from_secs(30),
        }
    }
}

/// How long an `Idempotency-Key` holds when nothing else is said: a day.
pub const DEFAULT_IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// The order service's use cases.
pub struct OrderService {
    store: Arc<dyn OrderStore>,
    deadlines: SagaDeadlines,
    /// How long an `Idempotency-Key` holds.
    idempotency_ttl: Duration,
    /// Committed status changes, for [`OrderService::subscribe_updates`].
    updates: tokio::sync::broadcast::Sender<api::OrderUpdate>,
    /// Whether one more order may be placed now.
    admission: admission::gate::Gate,
    /// The catalog orders are priced from.
    catalog: catalog::CatalogCache,
    /// Orders as last committed here, for deciding replies.
    orders: app::order_cache::OrderCache,
}

impl OrderService {
    /// The service, admitting orders by [`AdmissionSettings::for_deadlines`].
    pub fn new(store: Arc<dyn OrderStore>, deadlines: SagaDeadlines) -> Self {
        Self {
            store,
            deadlines,
            idempotency_ttl: DEFAULT_IDEMPOTENCY_TTL,
            updates: app::updates::channel(),
            admission: admission::gate::Gate::new(AdmissionSettings::for_deadlines(&deadlines)),
            catalog: catalog::CatalogCache::default(),
            orders: app::order_cache::OrderCache::default(),
        }
    }

    /// The same service, admitting orders by `settings`. Call before any order is placed.
    #[must_use]
    pub fn with_admission(self, settings: AdmissionSettings) -> Self {
        Self {
            admission: admission::gate::Gate::new(settings),
            ..self
        }
    }

    /// The same service, whose `Idempotency-Key`s hold for `ttl` (a day by default).
    #[must_use]
    pub fn with_idempotency_ttl(self, ttl: Duration) -> Self {
        Self {
            idempotency_ttl: ttl,
            ..self
        }
    }
}
