//! The order service's use cases, one file each.

pub(crate) mod cancel_order;
pub(crate) mod idempotency;
pub(crate) mod order_cache;
pub(crate) mod order_request;
pub(crate) mod place_order;
pub(crate) mod queries;
pub(crate) mod replies;
pub(crate) mod saga_runner;
pub(crate) mod timers;
pub(crate) mod updates;

#[cfg(test)]
mod timers_tests;
