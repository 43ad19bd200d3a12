//! The embedded mode: every service in one process, on SQLite files under one data
//! directory, talking through the SQL-queue transport. Same service code as the scaled-out
//! mode; only the adapters differ.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use contracts::Queue;
use gateway::AppState;
use inventory_service::InventoryService;
use notification_service::{LogMailer, NotificationService};
use order_service::OrderService;
use order_service::catalog::demo_stock;
use payment_service::{PaymentService, SimulatedGateway};
use query_service::QueryService;
use store_sqlite::{
    Databases, SqliteInventoryStore, SqliteNotificationStore, SqliteOrderStore, SqliteOutbox,
    SqlitePaymentStore, SqliteQueryStore, SqliteQueue,
};
use tokio_util::sync::CancellationToken;
use tracing::info;
use transport::{Handler, Publisher, run_consumer, run_relay};

use crate::config::RunConfig;
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
}

/// The services of one process, wired to their adapters.
struct Services {
    orders: Arc<OrderService>,
    inventory: Arc<InventoryService>,
    payment: Arc<PaymentService>,
    notifications: Arc<NotificationService>,
    queries: Arc<QueryService>,
}

impl Services {
    fn wire(databases: &Databases, config: &RunConfig) -> Self {
        Self {
            orders: Arc::new(OrderService::new(
                Arc::new(SqliteOrderStore::new(databases.order.clone())),
                config.settings.saga_deadlines(),
            )),
            inventory: Arc::new(InventoryService::new(Arc::new(SqliteInventoryStore::new(
                databases.inventory.clone(),
            )))),
            payment: Arc::new(PaymentService::new(
                Arc::new(SqlitePaymentStore::new(databases.payment.clone())),
                Arc::new(SimulatedGateway::new(config.settings.gateway_settings())),
            )),
            notifications: Arc::new(NotificationService::new(
                Arc::new(SqliteNotificationStore::new(databases.notification.clone())),
                Arc::new(LogMailer::new()),
            )),
            queries: Arc::new(QueryService::new(Arc::new(SqliteQueryStore::new(
                databases.query.clone(),
            )))),
        }
    }

    fn handler(&self, queue: Queue) -> Arc<dyn Handler> {
        match queue {
            Queue::Order => self.orders.clone(),
            Queue::Inventory => self.inventory.clone(),
            Queue::Payment => self.payment.clone(),
            Queue::Notification => self.notifications.clone(),
            Queue::Query => self.queries.clone(),
        }
    }

    /// The demo catalog and its stock, on first start only.
    async fn seed(&self) -> anyhow::Result<()> {
        self.orders
            .seed_demo_catalog()
            .await
            .context("seed catalog")?;
        self.inventory
            .seed_stock(&demo_stock())
            .await
            .context("seed stock")?;
        Ok(())
    }
}

impl Embedded {
    /// Opens the data directory, starts every service, and listens for HTTP.
    ///
    /// # Errors
    /// When the data directory cannot be used or the address cannot be bound.
    pub async fn start(config: &RunConfig) -> anyhow::Result<Self> {
        let databases = Databases::open(&config.data_dir).await?;
        let queue = SqliteQueue::new(databases.clone());
        queue
            .release_stale_leases()
            .await
            .context("release leases of a previous run")?;
        let services = Services::wire(&databases, config);
        services.seed().await?;
        let admin_token = admin_token(config)?;

        let mut supervisor = Supervisor::new();
        let shutdown = supervisor.token();
        let publisher: Arc<dyn Publisher> = Arc::new(queue.clone());
        for database in databases.all() {
            let outbox = Arc::new(SqliteOutbox::new(database.clone()));
            let relay = run_relay(
                database.service().name(),
                outbox,
                publisher.clone(),
                shutdown.clone(),
            );
            supervisor.spawn("relay", relay);
        }
        let policy = config.settings.retry_policy();
        for service in Queue::ALL {
            for _ in 0..config.settings.consumers {
                let consumer = Arc::new(queue.consumer(service));
                let run = run_consumer(
                    consumer,
                    services.handler(service),
                    policy,
                    shutdown.clone(),
                );
                supervisor.spawn("consumer", run);
            }
        }
        let timer = order_service::run_deadline_timer(services.orders.clone(), shutdown.clone());
        supervisor.spawn("deadlines", timer);

        let state = AppState {
            orders: services.orders.clone(),
            reads: services.queries.clone(),
            stock: services.inventory.clone(),
            mailbox: services.notifications.clone(),
            dead_letters: Arc::new(queue.clone()),
            readiness: Arc::new(EmbeddedReadiness {
                databases: databases.clone(),
                stopping: shutdown.clone(),
            }),
            admin_token: admin_token.as_str().into(),
            metrics: crate::telemetry::metrics_handle(),
        };
        let addr = crate::http::serve(&mut supervisor, config.listen, state).await?;
        info!(%addr, data_dir = %config.data_dir.display(), "orderflow is running");
        Ok(Self {
            addr,
            admin_token,
            databases,
            supervisor,
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
/// that is kept there and printed once.
///
/// # Errors
/// When the data dir cannot be written.
pub fn admin_token(config: &RunConfig) -> anyhow::Result<String> {
    if let Some(token) = &config.admin_token {
        return Ok(token.clone());
    }
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("create {}", config.data_dir.display()))?;
    let path = config.data_dir.join("admin-token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        let token = token.trim().to_owned();
        if !token.is_empty() {
            info!(path = %path.display(), "admin token read from the data dir");
            return Ok(token);
        }
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    write_private(&path, &token)?;
    println!("Admin token (kept in {}): {token}", path.display());
    Ok(token)
}

fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("write {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}
