//! Saga deadlines: a step that is not answered in time cancels the order and runs the
//! compensations. Deadlines live in the database and are compared with its clock, so they
//! survive restarts and do not depend on any process's clock.

use std::sync::Arc;
use std::time::Duration;

use order_domain::saga::SagaInput;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::OrderService;

const POLL: Duration = Duration::from_millis(200);
const BATCH: usize = 64;

/// Fires due deadlines until `shutdown`.
pub async fn run_deadline_timer(service: Arc<OrderService>, shutdown: CancellationToken) {
    while !shutdown.is_cancelled() {
        match service.fire_due_deadlines().await {
            Ok(fired) if fired > 0 => continue,
            Ok(_) => {}
            Err(error) => warn!(
                error = format!("{error:#}"),
                "cannot read saga deadlines; retrying"
            ),
        }
        tokio::select! {
            () = shutdown.cancelled() => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

impl OrderService {
    /// Fires every due deadline once; returns how many fired.
    ///
    /// # Errors
    /// When the deadlines cannot be read.
    pub async fn fire_due_deadlines(&self) -> anyhow::Result<usize> {
        let due = self.store.due_deadlines(BATCH).await?;
        for deadline in &due {
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
