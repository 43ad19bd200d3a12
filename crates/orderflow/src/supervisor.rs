//! The background tasks of one process, under one shutdown signal. If a task stops on its
//! own, every task is stopped: a process that lost a consumer or its relay must not limp on.

use std::future::Future;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::error;

/// Runs named tasks until shutdown.
pub(crate) struct Supervisor {
    shutdown: CancellationToken,
    tasks: JoinSet<&'static str>,
}

impl Supervisor {
    pub(crate) fn new() -> Self {
        Self {
            shutdown: CancellationToken::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Cancelling it shuts every task down gracefully.
    pub(crate) fn token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    pub(crate) fn spawn(
        &mut self,
        name: &'static str,
        task: impl Future<Output = ()> + Send + 'static,
    ) {
        self.tasks.spawn(async move {
            task.await;
            name
        });
    }

    /// Waits for every task.
    ///
    /// # Errors
    /// When a task stopped (or panicked) before shutdown was asked for.
    pub(crate) async fn wait(mut self) -> anyhow::Result<()> {
        let mut failure = None;
        while let Some(finished) = self.tasks.join_next().await {
            if !self.shutdown.is_cancelled() {
                let name = finished.unwrap_or("a task that panicked");
                error!(task = name, "a background task stopped; shutting down");
                failure.get_or_insert_with(|| anyhow::anyhow!("{name} stopped unexpectedly"));
                self.shutdown.cancel();
            }
        }
        failure.map_or(Ok(()), Err)
    }
}
