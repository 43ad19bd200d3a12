//! Saga deadlines: a step that is not answered in time cancels the order and runs the
//! compensations. Deadlines live in the database and are compared with its clock, so they
//! survive restarts and do not depend on any process's clock.
//!
//! A deadline measures how long the saga waited for an answer, not how long its own process
//! could not work. While the process is down by its own [`Outages`] (its database unreachable,
//! its relay or consumers unable to reach the broker), the timer fires nothing; once all is
//! back, it first pushes every pending deadline back by the outage's length, then fires what
//! is still due. An outage of another service is not postponed for: a step that another
//! service does not answer in time is what a deadline is for.

use std::sync::Arc;
use std::time::Duration;

use order_domain::saga::SagaInput;
use store::order::DueDeadline;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};
use transport::{OutageReporter, Outages};

use crate::OrderService;

const POLL: Duration = Duration::from_millis(200);
const BATCH: usize = 64;
/// Outage time shorter than this is kept until it adds up: postponing rewrites every pending
/// deadline.
const MIN_POSTPONEMENT: Duration = Duration::from_millis(500);

/// Fires due deadlines until `shutdown`, postponing them by the outages its process reports to
/// `outages` (the timer reports its own database's there too).
pub async fn run_deadline_timer(
    service: Arc<OrderService>,
    outages: Arc<Outages>,
    shutdown: CancellationToken,
) {
    let database = outages.reporter();
    while !shutdown.is_cancelled() {
        let attempt = Instant::now();
        match service.look_at_deadlines(&outages, &database).await {
            Ok(fired) if fired > 0 => continue,
            Ok(_) => {}
            Err(error) => {
                database.down(attempt);
                warn!(
                    error = format!("{error:#}"),
                    "cannot read saga deadlines; retrying"
                );
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

impl OrderService {
    /// One look at the deadlines: none fire while the process is down; after an outage they
    /// are postponed first. Returns how many fired.
    async fn look_at_deadlines(
        &self,
        outages: &Outages,
        database: &OutageReporter,
    ) -> anyhow::Result<usize> {
        let mut due = self.store.due_deadlines(BATCH).await?;
        database.up();
        if outages.is_down() {
            // The answers the sagas wait for cannot reach this process now.
            return Ok(0);
        }
        let outage = outages.take_outage_time();
        if outage >= MIN_POSTPONEMENT {
            match self.store.postpone_deadlines(outage).await {
                Ok(postponed) => info!(
                    outage_ms = outage.as_millis(),
                    deadlines = postponed,
                    "saga deadlines pushed back by this process's outage"
                ),
                Err(error) => {
                    outages.give_back(outage);
                    return Err(error.into());
                }
            }
            // What was due before may not be any more.
            due = self.store.due_deadlines(BATCH).await?;
        } else {
            outages.give_back(outage);
        }
        self.fire(&due).await
    }

    /// Fires each deadline once; returns how many fired.
    async fn fire(&self, due: &[DueDeadline]) -> anyhow::Result<usize> {
        for deadline in due {
            let input = SagaInput::DeadlineExpired(deadline.step);
            match self.run_saga(deadline.order_id, &input, None).await {
                Ok(_) => {
                    info!(order.id = %deadline.order_id, step = deadline.step.as_str(), "saga deadline fired");
                }
                Err(error) => {
                    warn!(order.id = %deadline.order_id, error = format!("{error:#}"), "saga deadline failed; dropping it");
                    let mut tx = self.store.begin().await?;
                    tx.clear_deadline(deadline.order_id, Some(deadline.step))
                        .await?;
                    tx.commit().await?;
                }
            }
        }
        Ok(due.len())
    }
}
