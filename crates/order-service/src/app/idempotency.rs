//! Expired `Idempotency-Key`s are purged now and then. A key past its lifetime is ignored
//! when read and taken over when sent again anyway; the purge only keeps the table small.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::OrderService;

/// How often expired keys are looked for, at most: a tenth of their lifetime, so a key is
/// deleted at most 10 % late.
const MAX_PURGE_INTERVAL: Duration = Duration::from_secs(60 * 60);
const MIN_PURGE_INTERVAL: Duration = Duration::from_millis(100);

/// Deletes expired idempotency keys until `shutdown`. A failed purge is tried again at the
/// next turn: nothing depends on it.
pub async fn run_idempotency_purge(service: Arc<OrderService>, shutdown: CancellationToken) {
    let interval = (service.idempotency_ttl / 10).clamp(MIN_PURGE_INTERVAL, MAX_PURGE_INTERVAL);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        match service
            .store
            .purge_idempotency_keys(service.idempotency_ttl)
            .await
        {
            Ok(0) => {}
            Ok(purged) => info!(keys = purged, "expired idempotency keys purged"),
            Err(error) => warn!(
                error = format!("{error:#}"),
                "cannot purge expired idempotency keys; trying again later"
            ),
        }
    }
}
