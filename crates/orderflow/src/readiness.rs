use async_trait::async_trait;
use gateway::{Readiness, ReadinessCheck};
use store::OutboxReader as _;
use store_sqlite::{Databases, SqliteOutbox};
use tokio_util::sync::CancellationToken;

/// Ready when every service database answers and no background task has stopped.
pub(crate) struct EmbeddedReadiness {
    pub(crate) databases: Databases,
    pub(crate) stopping: CancellationToken,
}

#[async_trait]
impl ReadinessCheck for EmbeddedReadiness {
    async fn check(&self) -> Vec<Readiness> {
        let mut checks = Vec::new();
        for database in self.databases.all() {
            let ready = database.ping().await;
            let lag = SqliteOutbox::new(database.clone()).lag().await.ok();
            if let Some(lag) = lag {
                metrics::gauge!("orderflow_outbox_lag", "service" => database.service().name())
                    .set(lag as f64);
            }
            checks.push(Readiness {
                name: format!("{}-database", database.service().name()),
                ready,
                detail: lag.map(|lag| format!("outbox lag {lag}")),
            });
        }
        checks.push(Readiness {
            name: "workers".to_owned(),
            ready: !self.stopping.is_cancelled(),
            detail: self
                .stopping
                .is_cancelled()
                .then(|| "shutting down".to_owned()),
        });
        checks
    }
}
