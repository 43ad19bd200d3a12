//! How one process runs a service, described once for both modes.
//!
//! A mode supplies its adapters through [`Adapters`] (SQLite and the SQL queue when embedded;
//! PostgreSQL, RabbitMQ and Redis when scaled out). [`start_service`] then builds the service
//! on them, seeds its demo data, and runs its outbox relay, its queue consumers and (for the
//! order service) the saga's deadline timer and admission's monitor under the process's
//! supervisor. The ports of the
//! services it started are gathered in [`LocalPorts`] for the HTTP API. When fault injection is
//! configured (`ORDERFLOW_FAULTS`, for tests), the consumers and the relay's publisher are
//! wrapped here, so both modes, and every process of a cluster, get the same faults. A
//! service whose messages reach it through another transport (the analytics stream on Kafka)
//! also gets the loops that forward its queue there.

use std::sync::Arc;

use analytics_service::AnalyticsService;
use anyhow::Context as _;
use contracts::Queue;
use gateway::auth::Authenticator;
use gateway::backends::{Analytics, Mailbox, OrderCommands, OrderReads, Stock};
use gateway::remote::Remote;
use gateway::{AppState, ReadinessCheck};
use inventory_service::InventoryService;
use notification_service::ports::EmailSender;
use notification_service::{LogMailer, NotificationService};
use notification_smtp::SmtpMailer;
use order_service::OrderService;
use order_service::catalog::demo_stock;
use payment_service::{PaymentService, SimulatedGateway};
use query_service::QueryService;
use store::OutboxReader;
use store::analytics::{AnalyticsStore, BlobStore};
use store::inventory::InventoryStore;
use store::notification::NotificationStore;
use store::order::OrderStore;
use store::payment::PaymentStore;
use store::query::{QueryStore, ViewCache};
use tracing::warn;
use transport::faults::FaultInjector;
use transport::{DeadLetters, Handler, Outages, Publisher, QueueConsumer, run_consumer, run_relay};

use crate::config::ServiceSettings;
use crate::supervisor::Supervisor;

/// The adapters of one mode, for the services this process runs.
pub(crate) trait Adapters {
    fn order_store(&self) -> Arc<dyn OrderStore>;
    fn inventory_store(&self) -> Arc<dyn InventoryStore>;
    fn payment_store(&self) -> Arc<dyn PaymentStore>;
    fn notification_store(&self) -> Arc<dyn NotificationStore>;
    fn query_store(&self) -> Arc<dyn QueryStore>;
    fn analytics_store(&self) -> Arc<dyn AnalyticsStore>;
    /// Where the analytics archive's files go: `BLOB_URL`, else the mode's default directory.
    fn archive(&self, blob_url: Option<&str>) -> anyhow::Result<Arc<dyn BlobStore>>;
    /// The cache of order views; `None` keeps the query service's in-process cache.
    fn view_cache(&self) -> Option<Arc<dyn ViewCache>>;
    /// The outbox of `service`'s database, which its relay drains.
    fn outbox(&self, service: Queue) -> Arc<dyn OutboxReader>;
    /// One consumer of `queue`; a service runs several.
    fn consumer(&self, queue: Queue) -> Arc<dyn QueueConsumer>;
    fn publisher(&self) -> Arc<dyn Publisher>;
    /// When `queue`'s service reads its messages from another transport than the queues (the
    /// analytics stream on Kafka, scaled out): the handler that moves the queue onto it. `None`:
    /// the service reads the queue itself.
    fn forwarder(&self, _queue: Queue) -> Option<Arc<dyn Handler>> {
        None
    }
    /// One consumer of `queue` on the queues' own transport, whatever [`Adapters::consumer`]
    /// reads; the forwarder's.
    fn queue_consumer(&self, queue: Queue) -> Arc<dyn QueueConsumer> {
        self.consumer(queue)
    }
    /// Whether this process is the only one that can ever use these stores (the embedded
    /// mode locks its data directory): then what it claimed before a crash is its own again.
    fn sole_process(&self) -> bool;
}

/// The ports of the services running in this process, for the HTTP API. A port that is
/// `None` belongs to a service of another process.
#[derive(Default)]
pub(crate) struct LocalPorts {
    pub(crate) orders: Option<Arc<dyn OrderCommands>>,
    pub(crate) reads: Option<Arc<dyn OrderReads>>,
    pub(crate) stock: Option<Arc<dyn Stock>>,
    pub(crate) mailbox: Option<Arc<dyn Mailbox>>,
    pub(crate) analytics: Option<Arc<dyn Analytics>>,
    /// The order service itself, whose admission readiness reports.
    pub(crate) order_service: Option<Arc<OrderService>>,
}

impl LocalPorts {
    /// The HTTP API over these ports; `remote` reaches the services of other processes (the
    /// owning service's own public routes, over HTTP).
    ///
    /// # Errors
    /// When `remote` cannot make a client for a service this process does not run.
    pub(crate) fn into_api(
        self,
        remote: impl Fn(Queue) -> anyhow::Result<Arc<Remote>>,
        dead_letters: Arc<dyn DeadLetters>,
        readiness: Arc<dyn ReadinessCheck>,
        auth: Arc<Authenticator>,
    ) -> anyhow::Result<AppState> {
        Ok(AppState {
            orders: self
                .orders
                .map_or_else(|| remote(Queue::Order).map(|r| r as _), Ok)?,
            reads: self
                .reads
                .map_or_else(|| remote(Queue::Query).map(|r| r as _), Ok)?,
            stock: self
                .stock
                .map_or_else(|| remote(Queue::Inventory).map(|r| r as _), Ok)?,
            mailbox: self
                .mailbox
                .map_or_else(|| remote(Queue::Notification).map(|r| r as _), Ok)?,
            analytics: self
                .analytics
                .map_or_else(|| remote(Queue::Analytics).map(|r| r as _), Ok)?,
            dead_letters,
            readiness,
            auth,
            metrics: crate::telemetry::metrics_handle(),
            trace_url: None,
        })
    }
}

/// Builds `service` on `adapters`, seeds its demo data on first start, and runs its relay, its
/// consumers and its timers under `supervisor`. They report their outages to one record, by
/// which the order service's deadline timer postpones deadlines.
///
/// # Errors
/// When the demo data cannot be written.
pub(crate) async fn start_service(
    service: Queue,
    adapters: &dyn Adapters,
    settings: &ServiceSettings,
    supervisor: &mut Supervisor,
    ports: &mut LocalPorts,
) -> anyhow::Result<()> {
    let outages = Outages::new();
    let handler = build_service(service, adapters, settings, &outages, supervisor, ports).await?;
    let shutdown = supervisor.token();
    let faults = settings.faults.map(|faults| {
        warn!(
            queue = service.name(),
            faults = %faults,
            "fault injection is on: a test facility, never for production"
        );
        FaultInjector::new(faults, service)
    });
    let publisher = adapters.publisher();
    let relay = run_relay(
        service.name(),
        adapters.outbox(service),
        match &faults {
            Some(faults) => faults.publisher(publisher),
            None => publisher,
        },
        outages.reporter(),
        shutdown.clone(),
    );
    supervisor.spawn("relay", relay);
    let consumers = settings.consumers(adapters.sole_process());
    for index in 0..consumers {
        let consumer = adapters.consumer(service);
        let consumer = run_consumer(
            match &faults {
                Some(faults) => faults.consumer(consumer, index),
                None => consumer,
            },
            handler.clone(),
            settings.retry_policy(),
            outages.reporter(),
            shutdown.clone(),
        );
        supervisor.spawn("consumer", consumer);
    }
    if let Some(forwarder) = adapters.forwarder(service) {
        // As many loops as the service's own, each acking a queue delivery only once the
        // other transport confirmed it.
        for index in 0..consumers {
            let consumer = adapters.queue_consumer(service);
            let forwarding = run_consumer(
                match &faults {
                    Some(faults) => faults.consumer(consumer, consumers + index),
                    None => consumer,
                },
                forwarder.clone(),
                settings.retry_policy(),
                outages.reporter(),
                shutdown.clone(),
            );
            supervisor.spawn("forwarder", forwarding);
        }
    }
    Ok(())
}

/// The service that consumes `service`'s queue, as the handler of its messages.
async fn build_service(
    service: Queue,
    adapters: &dyn Adapters,
    settings: &ServiceSettings,
    outages: &Arc<Outages>,
    supervisor: &mut Supervisor,
    ports: &mut LocalPorts,
) -> anyhow::Result<Arc<dyn Handler>> {
    Ok(match service {
        Queue::Order => {
            let orders = Arc::new(
                OrderService::new(adapters.order_store(), settings.saga_deadlines())
                    .with_admission(settings.admission_settings())
                    .with_idempotency_ttl(settings.idempotency_ttl),
            );
            orders.seed_demo_catalog().await.context("seed catalog")?;
            // Orders a previous run left in flight count from the first POST on.
            orders
                .measure_load()
                .await
                .context("count orders in flight")?;
            let monitor = order_service::run_admission_monitor(orders.clone(), supervisor.token());
            supervisor.spawn("admission", monitor);
            let purge = order_service::run_idempotency_purge(orders.clone(), supervisor.token());
            supervisor.spawn("idempotency-keys", purge);
            let timer = order_service::run_deadline_timer(
                orders.clone(),
                outages.clone(),
                supervisor.token(),
            );
            supervisor.spawn("deadlines", timer);
            ports.orders = Some(orders.clone());
            ports.order_service = Some(orders.clone());
            orders
        }
        Queue::Inventory => {
            let inventory = Arc::new(InventoryService::new(adapters.inventory_store()));
            let stock = demo_stock()?;
            inventory.seed_stock(&stock).await.context("seed stock")?;
            ports.stock = Some(inventory.clone());
            inventory
        }
        Queue::Payment => Arc::new(PaymentService::new(
            adapters.payment_store(),
            Arc::new(SimulatedGateway::new(settings.gateway_settings())),
        )),
        Queue::Notification => {
            let sender: Arc<dyn EmailSender> = match &settings.smtp_url {
                Some(url) => Arc::new(
                    SmtpMailer::new(url, &settings.smtp_from).context("set up the SMTP sender")?,
                ),
                None => Arc::new(LogMailer::new()),
            };
            let mut notifications = NotificationService::new(adapters.notification_store(), sender);
            if adapters.sole_process() {
                notifications = notifications.sole_sender();
            }
            let notifications = Arc::new(notifications);
            ports.mailbox = Some(notifications.clone());
            notifications
        }
        Queue::Query => {
            let mut queries = QueryService::new(adapters.query_store());
            if let Some(cache) = adapters.view_cache() {
                queries = queries.with_cache(cache);
            }
            let queries = Arc::new(queries);
            ports.reads = Some(queries.clone());
            queries
        }
        Queue::Analytics => {
            let analytics = Arc::new(AnalyticsService::new(adapters.analytics_store()));
            let archive = adapters
                .archive(settings.blob_url.as_deref())
                .context("open the analytics archive")?;
            let archiver = analytics_service::archive::run_archiver(
                analytics.clone(),
                archive,
                settings.archive_settings(),
                supervisor.token(),
            );
            supervisor.spawn("archiver", archiver);
            ports.analytics = Some(analytics.clone());
            analytics
        }
    })
}
