//! Samples admission's measures a few times a second: the store's count of orders in flight
//! (one cheap read, never one per POST) and the sagas ended since the last sample, and
//! exports them as metrics.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;
use tracing::debug;

use super::AdmissionStatus;
use crate::OrderService;

/// How often the measures are sampled.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Samples admission's measures every [`SAMPLE_EVERY`] until `shutdown`.
pub async fn run_admission_monitor(service: Arc<OrderService>, shutdown: CancellationToken) {
    let mut ticks = tokio::time::interval(SAMPLE_EVERY);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticks.tick() => {}
        }
        if let Err(error) = service.measure_load().await {
            // The estimate carries on from this process's own changes; an outage of the
            // database is reported by readiness and the workers that need it.
            debug!(
                error = format!("{error:#}"),
                "cannot count orders in flight; keeping the estimate"
            );
        }
    }
}

impl OrderService {
    /// Counts the orders in flight in the store and records a sample of admission's
    /// measures; the process does it once at start, then [`run_admission_monitor`] does.
    ///
    /// # Errors
    /// [`store::StoreError`] when the count cannot be read: the sample still records the
    /// completion rate, on the estimate kept so far.
    pub async fn measure_load(&self) -> store::Result<AdmissionStatus> {
        let counted = self.store.orders_in_flight().await;
        let status = self
            .admission
            .sample(counted.as_ref().ok().copied(), Instant::now());
        export(&status);
        counted.map(|_| status)
    }

    /// What admission sees now: orders in flight, the limit, the completion rate.
    pub fn admission(&self) -> AdmissionStatus {
        self.admission.status()
    }
}

fn export(status: &AdmissionStatus) {
    #[expect(clippy::cast_precision_loss, reason = "order counts below 2^52")]
    let (in_flight, limit) = (status.in_flight as f64, status.limit as f64);
    metrics::gauge!("orderflow_sagas_in_flight").set(in_flight);
    metrics::gauge!("orderflow_admission_limit").set(limit);
    metrics::gauge!("orderflow_sagas_ended_per_second").set(status.ended_per_second);
}
