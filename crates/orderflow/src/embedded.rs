//! The embedded mode: every service in one process, on SQLite files under one data
//! directory, talking through the SQL-queue transport. Same service code as the scaled-out
//! mode; only the adapters differ.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use blob_object_store::ObjectBlobStore;
use contracts::Queue;
use store::OutboxReader;
use store::analytics::{AnalyticsStore, BlobStore};
use store::inventory::InventoryStore;
use store::notification::NotificationStore;
use store::order::OrderStore;
use store::payment::PaymentStore;
use store::query::{QueryStore, ViewCache};
use store_sqlite::{
    Databases, SqliteAnalyticsStore, SqliteInventoryStore, SqliteNotificationStore,
    SqliteOrderStore, SqliteOutbox, SqlitePaymentStore, SqliteQueryStore, SqliteQueue,
};
use tokio_util::sync::CancellationToken;
use tracing::info;
use transport::{Publisher, QueueConsumer};

use crate::composition::{Adapters, LocalPorts, start_service};
use crate::config::RunConfig;
use crate::data_dir_lock::DataDirLock;
use crate::readiness::EmbeddedReadiness;
use crate::supervisor::Supervisor;

/// A running embedded system.
pub struct Embedded {
    /// Where the HTTP API listens.
    pub addr: SocketAddr,
    pub admin_token: String,
    /// Every service database, for inspection (tests, `verify`).
    pub databases: Databases,
    supervisor: Supervisor,
    /// Held until the databases are closed: no other process writes this data directory.
    lock: DataDirLock,
}

/// The embedded mode's adapters: one SQLite file per service, and the SQL queue between them.
struct SqliteAdapters {
    databases: Databases,
    queue: SqliteQueue,
    data_dir: std::path::PathBuf,
}

impl Adapters for SqliteAdapters {
    fn order_store(&self) -> Arc<dyn OrderStore> {
        Arc::new(SqliteOrderStore::new(self.databases.order.clone()))
    }

    fn inventory_store(&self) -> Arc<dyn InventoryStore> {
        Arc::new(SqliteInventoryStore::new(self.databases.inventory.clone()))
    }

    fn payment_store(&self) -> Arc<dyn PaymentStore> {
        Arc::new(SqlitePaymentStore::new(self.databases.payment.clone()))
    }

    fn notification_store(&self) -> Arc<dyn NotificationStore> {
        Arc::new(SqliteNotificationStore::new(
            self.databases.notification.clone(),
        ))
    }

    fn query_store(&self) -> Arc<dyn QueryStore> {
        Arc::new(SqliteQueryStore::new(self.databases.query.clone()))
    }

    fn analytics_store(&self) -> Arc<dyn AnalyticsStore> {
        Arc::new(SqliteAnalyticsStore::new(self.databases.analytics.clone()))
    }

    fn archive(&self, blob_url: Option<&str>) -> anyhow::Result<Arc<dyn BlobStore>> {
        Ok(Arc::new(match blob_url {
            Some(url) => ObjectBlobStore::from_url(url)?,
            None => ObjectBlobStore::local(&self.data_dir.join("archive"))?,
        }))
    }

    fn view_cache(&self) -> Option<Arc<dyn ViewCache>> {
        None
    }

    fn outbox(&self, service: Queue) -> Arc<dyn OutboxReader> {
        Arc::new(SqliteOutbox::new(self.databases.get(service).clone()))
    }

    fn consumer(&self, queue: Queue) -> Arc<dyn QueueConsumer> {
        Arc::new(self.queue.consumer(queue))
    }

    fn publisher(&self) -> Arc<dyn Publisher> {
        Arc::new(self.queue.clone())
    }

    fn sole_process(&self) -> bool {
        true
    }
}

impl Embedded {
    /// Takes the data directory's lock, opens it, starts every service, and listens for HTTP.
    ///
    /// # Errors
    /// When another process holds the data directory, it cannot be used, or the address
    /// cannot be bound.
    pub async fn start(config: &RunConfig) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let databases = Databases::open(&config.data_dir).await?;
        let queue = SqliteQueue::new(databases.clone());
        queue
            .release_stale_leases()
            .await
            .context("release leases of a previous run")?;
        let admin_token = admin_token(config)?;
        let auth = config
            .identity
            .with_kept_secret(&config.data_dir)?
            .authenticator(&admin_token)?;
        let adapters = SqliteAdapters {
            databases: databases.clone(),
            queue: queue.clone(),
            data_dir: config.data_dir.clone(),
        };
        let mut supervisor = Supervisor::new();
        let mut ports = LocalPorts::default();
        for service in Queue::ALL {
            start_service(
                service,
                &adapters,
                &config.settings,
                &mut supervisor,
                &mut ports,
            )
            .await?;
        }
        let readiness = Arc::new(EmbeddedReadiness {
            databases: databases.clone(),
            consumers: config.settings.consumers(true),
            orders: ports.order_service.clone(),
            stopping: supervisor.token(),
        });
        let every_service_is_local =
            |service: Queue| anyhow::bail!("{} is not running in this process", service.name());
        let state = ports.into_api(every_service_is_local, Arc::new(queue), readiness, auth)?;
        let addr = crate::http::serve(&mut supervisor, config.listen, state, &config.http).await?;
        info!(%addr, data_dir = %config.data_dir.display(), "orderflow is running");
        Ok(Self {
            addr,
            admin_token,
            databases,
            supervisor,
            lock,
        })
    }

    /// Cancelling this token shuts the system down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.supervisor.token()
    }

    /// Runs until shut down; see [`Supervisor::wait`].
    ///
    /// # Errors
    /// When a task stopped before shutdown was asked for.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.supervisor.wait().await;
        self.databases.close().await;
        drop(self.lock);
        info!("orderflow stopped");
        result
    }

    /// Shuts down gracefully and waits for every task.
    ///
    /// # Errors
    /// When a task had stopped on its own before.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.supervisor.token().cancel();
        self.wait().await
    }
}

/// The admin token: from the configuration, else the one kept in the data dir, else a new one
/// that is kept there; only its path is printed. A configured token is checked when the API
/// is built: an empty or short one stops the start.
///
/// # Errors
/// When the data dir cannot be written.
pub fn admin_token(config: &RunConfig) -> anyhow::Result<String> {
    if let Some(token) = &config.admin_token {
        return Ok(token.clone());
    }
    crate::identity::kept_secret(&config.data_dir, "admin-token", "Admin token")
}
