//! The scaled-out mode: some services in this process, on PostgreSQL (one schema each),
//! RabbitMQ and Redis; the other services in other processes, reached over HTTP. The same
//! service code as the embedded mode; only the adapters differ.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use cache_redis::RedisViewCache;
use contracts::Queue;
use gateway::AppState;
use gateway::backends::{Mailbox, OrderCommands, OrderReads, Stock};
use gateway::remote::Remote;
use inventory_service::InventoryService;
use notification_service::{LogMailer, NotificationService};
use order_service::OrderService;
use order_service::catalog::demo_stock;
use payment_service::{PaymentService, SimulatedGateway};
use query_service::QueryService;
use sqlx::Connection as _;
use store_postgres::{
    PgDatabase, PgInventoryStore, PgNotificationStore, PgOrderStore, PgOutbox, PgPaymentStore,
    PgQueryStore,
};
use tokio_util::sync::CancellationToken;
use tracing::info;
use transport::{Handler, Publisher, run_consumer, run_relay};
use transport_amqp::{AmqpSettings, AmqpTransport};

use crate::config::ServeConfig;
use crate::readiness::ScaledReadiness;
use crate::supervisor::Supervisor;

/// A service `orderflow serve` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum ServiceName {
    Order,
    Inventory,
    Payment,
    Notification,
    Query,
    /// The public HTTP API, routing to the others.
    Gateway,
}

impl ServiceName {
    pub const ALL: [ServiceName; 6] = [
        ServiceName::Order,
        ServiceName::Inventory,
        ServiceName::Payment,
        ServiceName::Notification,
        ServiceName::Query,
        ServiceName::Gateway,
    ];

    /// The queue the service consumes; the gateway consumes none.
    fn queue(self) -> Option<Queue> {
        match self {
            ServiceName::Order => Some(Queue::Order),
            ServiceName::Inventory => Some(Queue::Inventory),
            ServiceName::Payment => Some(Queue::Payment),
            ServiceName::Notification => Some(Queue::Notification),
            ServiceName::Query => Some(Queue::Query),
            ServiceName::Gateway => None,
        }
    }
}

/// Services running in this process.
pub struct Scaled {
    pub addr: SocketAddr,
    supervisor: Supervisor,
    /// Each local service's schema, with the outbox its relay reads.
    databases: Vec<(PgDatabase, PgOutbox)>,
}

/// The API's ports, each local or remote.
struct Ports {
    orders: Option<Arc<dyn OrderCommands>>,
    reads: Option<Arc<dyn OrderReads>>,
    stock: Option<Arc<dyn Stock>>,
    mailbox: Option<Arc<dyn Mailbox>>,
}

impl Scaled {
    /// Connects to the backends, starts the named services and listens for HTTP.
    ///
    /// # Errors
    /// When a backend cannot be reached at start or the address cannot be bound.
    pub async fn start(services: &[ServiceName], config: &ServeConfig) -> anyhow::Result<Self> {
        let backends = &config.backends;
        let settings = &config.settings;
        let policy = settings.retry_policy();
        let consuming: Vec<Queue> = services.iter().filter_map(|s| s.queue()).collect();
        if !consuming.is_empty() {
            create_database_if_missing(&backends.database_url).await?;
        }
        // Every process declares the whole topology, so no message is published to a queue
        // whose consumer has not started yet.
        let amqp = AmqpTransport::connect(
            &backends.amqp_url,
            AmqpSettings {
                prefix: backends.amqp_prefix.clone(),
                retry: policy,
                ..AmqpSettings::default()
            },
        )
        .await
        .context("connect to RabbitMQ")?;
        let publisher: Arc<dyn Publisher> = Arc::new(amqp.clone());

        let mut supervisor = Supervisor::new();
        let shutdown = supervisor.token();
        let mut databases = Vec::new();
        let mut ports = Ports {
            orders: None,
            reads: None,
            stock: None,
            mailbox: None,
        };
        for queue in consuming {
            let database = PgDatabase::connect(&backends.database_url, queue)
                .await
                .with_context(|| format!("open the {} schema", queue.name()))?;
            let handler: Arc<dyn Handler> = match queue {
                Queue::Order => {
                    let orders = Arc::new(OrderService::new(
                        Arc::new(PgOrderStore::new(database.clone())),
                        settings.saga_deadlines(),
                    ));
                    orders.seed_demo_catalog().await.context("seed catalog")?;
                    let timer = order_service::run_deadline_timer(orders.clone(), shutdown.clone());
                    supervisor.spawn("deadlines", timer);
                    ports.orders = Some(orders.clone());
                    orders
                }
                Queue::Inventory => {
                    let inventory = Arc::new(InventoryService::new(Arc::new(
                        PgInventoryStore::new(database.clone()),
                    )));
                    inventory
                        .seed_stock(&demo_stock())
                        .await
                        .context("seed stock")?;
                    ports.stock = Some(inventory.clone());
                    inventory
                }
                Queue::Payment => Arc::new(PaymentService::new(
                    Arc::new(PgPaymentStore::new(database.clone())),
                    Arc::new(SimulatedGateway::new(settings.gateway_settings())),
                )),
                Queue::Notification => {
                    let notifications = Arc::new(NotificationService::new(
                        Arc::new(PgNotificationStore::new(database.clone())),
                        Arc::new(LogMailer::new()),
                    ));
                    ports.mailbox = Some(notifications.clone());
                    notifications
                }
                Queue::Query => {
                    let cache = RedisViewCache::new(
                        &backends.redis_url,
                        &backends.redis_prefix,
                        Duration::from_secs(backends.cache_ttl_secs),
                    )?;
                    let queries = Arc::new(
                        QueryService::new(Arc::new(PgQueryStore::new(database.clone())))
                            .with_cache(Arc::new(cache)),
                    );
                    ports.reads = Some(queries.clone());
                    queries
                }
            };
            let outbox = PgOutbox::new(database.clone());
            databases.push((database.clone(), outbox.clone()));
            let relay = run_relay(
                queue.name(),
                Arc::new(outbox),
                publisher.clone(),
                shutdown.clone(),
            );
            supervisor.spawn("relay", relay);
            for _ in 0..settings.consumers {
                let consumer = Arc::new(amqp.consumer(queue));
                supervisor.spawn(
                    "consumer",
                    run_consumer(consumer, handler.clone(), policy, shutdown.clone()),
                );
            }
        }

        let peers = &config.peers;
        let remote = |url: &str| Remote::new(url, &config.admin_token).map(Arc::new);
        let state = AppState {
            orders: ports
                .orders
                .map_or_else(|| remote(&peers.order_url).map(|r| r as _), Ok)?,
            reads: ports
                .reads
                .map_or_else(|| remote(&peers.query_url).map(|r| r as _), Ok)?,
            stock: ports
                .stock
                .map_or_else(|| remote(&peers.inventory_url).map(|r| r as _), Ok)?,
            mailbox: ports
                .mailbox
                .map_or_else(|| remote(&peers.notification_url).map(|r| r as _), Ok)?,
            dead_letters: Arc::new(amqp.clone()),
            readiness: Arc::new(ScaledReadiness {
                databases: databases.clone(),
                amqp: amqp.clone(),
                stopping: shutdown.clone(),
            }),
            admin_token: config.admin_token.as_str().into(),
            metrics: crate::telemetry::metrics_handle(),
        };
        let addr = crate::http::serve(&mut supervisor, config.listen, state).await?;
        info!(%addr, services = ?services, "orderflow services are running");
        Ok(Self {
            addr,
            supervisor,
            databases,
        })
    }

    /// Cancelling this token shuts the process down gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.supervisor.token()
    }

    /// Runs until shut down.
    ///
    /// # Errors
    /// When a task stopped before shutdown was asked for.
    pub async fn wait(self) -> anyhow::Result<()> {
        let result = self.supervisor.wait().await;
        for (database, _) in &self.databases {
            database.close().await;
        }
        info!("orderflow services stopped");
        result
    }
}

/// Creates the database named in `url` when it does not exist yet.
///
/// # Errors
/// When the server cannot be reached.
pub async fn create_database_if_missing(url: &str) -> anyhow::Result<()> {
    let options: sqlx::postgres::PgConnectOptions = url.parse().context("parse DATABASE_URL")?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    if sqlx::PgConnection::connect_with(&options).await.is_ok() {
        return Ok(());
    }
    let mut server = sqlx::PgConnection::connect_with(&options.clone().database("postgres"))
        .await
        .context("connect to PostgreSQL")?;
    let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    match sqlx::query(sqlx::AssertSqlSafe(create))
        .execute(&mut server)
        .await
    {
        Ok(_) => info!(database = name, "database created"),
        // Another process created it meanwhile.
        Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("42P04") => {}
        Err(error) => return Err(error).context("create database"),
    }
    Ok(())
}
