//! Readiness of one process: its databases (with their outbox lag, also exported as a
//! metric), its broker connection, and whether its background tasks still run.

use async_trait::async_trait;
use gateway::{Readiness, ReadinessCheck};
use store::OutboxReader;
use store_postgres::{PgDatabase, PgOutbox};
use store_sqlite::{Databases, SqliteOutbox};
use tokio_util::sync::CancellationToken;
use transport_amqp::AmqpTransport;

/// The embedded mode: every service database answers, no background task has stopped.
pub(crate) struct EmbeddedReadiness {
    pub(crate) databases: Databases,
    pub(crate) stopping: CancellationToken,
}

#[async_trait]
impl ReadinessCheck for EmbeddedReadiness {
    async fn check(&self) -> Vec<Readiness> {
        let mut checks = Vec::new();
        for database in self.databases.all() {
            let outbox = SqliteOutbox::new(database.clone());
            checks.push(
                database_check(database.service().name(), database.ping().await, &outbox).await,
            );
        }
        checks.push(workers_check(&self.stopping));
        checks
    }
}

/// A scaled-out process: its services' schemas, RabbitMQ, and its background tasks.
pub(crate) struct ScaledReadiness {
    pub(crate) databases: Vec<(PgDatabase, PgOutbox)>,
    pub(crate) amqp: AmqpTransport,
    pub(crate) stopping: CancellationToken,
}

#[async_trait]
impl ReadinessCheck for ScaledReadiness {
    async fn check(&self) -> Vec<Readiness> {
        let mut checks = Vec::new();
        for (database, outbox) in &self.databases {
            checks.push(
                database_check(database.service().name(), database.ping().await, outbox).await,
            );
        }
        checks.push(Readiness {
            name: "rabbitmq".to_owned(),
            ready: self.amqp.ping().await,
            detail: None,
        });
        checks.push(workers_check(&self.stopping));
        checks
    }
}

/// A service database, with its outbox lag as detail and as the `orderflow_outbox_lag` gauge.
async fn database_check(
    service: &'static str,
    ready: bool,
    outbox: &dyn OutboxReader,
) -> Readiness {
    let lag = outbox.lag().await.ok();
    if let Some(lag) = lag {
        metrics::gauge!("orderflow_outbox_lag", "service" => service).set(lag as f64);
    }
    Readiness {
        name: format!("{service}-database"),
        ready,
        detail: lag.map(|lag| format!("outbox lag {lag}")),
    }
}

fn workers_check(stopping: &CancellationToken) -> Readiness {
    Readiness {
        name: "workers".to_owned(),
        ready: !stopping.is_cancelled(),
        detail: stopping.is_cancelled().then(|| "shutting down".to_owned()),
    }
}
