//! The scaled-out mode: some services in this process, on PostgreSQL (one schema each),
//! RabbitMQ and Redis; the other services in other processes, reached over HTTP. The same
//! service code as the embedded mode; only the adapters differ. With `KAFKA_BROKERS`, the
//! analytics stream is a Kafka topic: the analytics process forwards its RabbitMQ queue onto
//! it and its service consumes the topic as a consumer group.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use blob_object_store::ObjectBlobStore;
use cache_redis::RedisViewCache;
use contracts::Envelope;
use contracts::Queue;
use gateway::remote::Remote;
use sqlx::Connection as _;
use store::OutboxReader;
use store::analytics::{AnalyticsStore, BlobStore};
use store::inventory::InventoryStore;
use store::notification::NotificationStore;
use store::order::OrderStore;
use store::payment::PaymentStore;
use store::query::{QueryStore, ViewCache};
use store_postgres::{
    PgAnalyticsStore, PgDatabase, PgInventoryStore, PgNotificationStore, PgOrderStore, PgOutbox,
    PgPaymentStore, PgQueryStore,
};
use tokio_util::sync::CancellationToken;
use tracing::info;
use transport::{Handler, Publisher, QueueConsumer, TransportError};
use transport_amqp::{AmqpSettings, AmqpTransport};
use transport_kafka::{
    DeadLetterSink, KafkaForwarder, KafkaQueueConsumer, KafkaSettings, StreamLag,
};

use crate::composition::{Adapters, LocalPorts, start_service};
use crate::config::{Backends, ServeConfig};
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
    /// The analytics stream's consumer and the analytics API.
    Analytics,
    /// The public HTTP API, routing to the others.
    Gateway,
}

impl ServiceName {
    pub const ALL: [ServiceName; 7] = [
        ServiceName::Order,
        ServiceName::Inventory,
        ServiceName::Payment,
        ServiceName::Notification,
        ServiceName::Query,
        ServiceName::Analytics,
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
            ServiceName::Analytics => Some(Queue::Analytics),
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

/// The scaled-out mode's adapters: a PostgreSQL schema per local service, RabbitMQ, and Redis
/// for the query service's view cache.
struct PgAdapters {
    databases: HashMap<Queue, PgDatabase>,
    amqp: AmqpTransport,
    view_cache: Option<Arc<RedisViewCache>>,
    /// The analytics stream on Kafka, when this process runs the analytics service with
    /// `KAFKA_BROKERS` set.
    stream: Option<KafkaStream>,
}

/// The analytics stream on Kafka: one group member per process, shared by the service's
/// consumer loops, and the forwarder of the RabbitMQ queue onto the topic.
struct KafkaStream {
    consumer: Arc<KafkaQueueConsumer>,
    forwarder: Arc<KafkaForwarder>,
}

impl KafkaStream {
    /// Creates the topic if missing, then the group member and the producer.
    async fn connect(settings: &KafkaSettings, amqp: &AmqpTransport) -> anyhow::Result<Self> {
        transport_kafka::ensure_topic(settings)
            .await
            .context("create the analytics stream's topic on Kafka")?;
        let sink = Arc::new(AmqpDeadLetters(amqp.clone()));
        Ok(Self {
            consumer: Arc::new(KafkaQueueConsumer::new(settings, sink)?),
            forwarder: Arc::new(KafkaForwarder::new(settings)?),
        })
    }
}

/// Poison read from the stream goes where the analytics queue's other dead letters are: its
/// RabbitMQ dead-letter queue, listed, replayed (onto the queue, so the forwarder puts it on
/// the topic again) and discarded like any other.
struct AmqpDeadLetters(AmqpTransport);

#[async_trait]
impl DeadLetterSink for AmqpDeadLetters {
    async fn park(
        &self,
        body: Vec<u8>,
        envelope: Option<&Envelope>,
        error: &str,
        attempts: u32,
    ) -> Result<(), TransportError> {
        self.0
            .park(Queue::Analytics, body, envelope, error, attempts)
            .await
    }
}

impl PgAdapters {
    /// Opens the schema of every service in `local`, and the view cache if the query service
    /// is among them.
    async fn connect(
        local: &[Queue],
        backends: &Backends,
        amqp: AmqpTransport,
    ) -> anyhow::Result<Self> {
        let mut databases = HashMap::new();
        for &queue in local {
            let database = PgDatabase::connect(&backends.database_url, queue)
                .await
                .with_context(|| format!("open the {} schema", queue.name()))?;
            databases.insert(queue, database);
        }
        let view_cache = if local.contains(&Queue::Query) {
            Some(Arc::new(RedisViewCache::new(
                &backends.redis_url,
                &backends.redis_prefix,
                Duration::from_secs(backends.cache_ttl_secs),
            )?))
        } else {
            None
        };
        let stream = match backends.kafka() {
            Some(settings) if local.contains(&Queue::Analytics) => {
                Some(KafkaStream::connect(&settings, &amqp).await?)
            }
            _ => None,
        };
        Ok(Self {
            databases,
            amqp,
            view_cache,
            stream,
        })
    }

    fn database(&self, service: Queue) -> PgDatabase {
        // `start_service` asks only for the services this process was started with, and
        // `connect` opened a schema for each of them.
        self.databases
            .get(&service)
            .cloned()
            .unwrap_or_else(|| unreachable!("no schema opened for {}", service.name()))
    }
}

impl Adapters for PgAdapters {
    fn order_store(&self) -> Arc<dyn OrderStore> {
        Arc::new(PgOrderStore::new(self.database(Queue::Order)))
    }

    fn inventory_store(&self) -> Arc<dyn InventoryStore> {
        Arc::new(PgInventoryStore::new(self.database(Queue::Inventory)))
    }

    fn payment_store(&self) -> Arc<dyn PaymentStore> {
        Arc::new(PgPaymentStore::new(self.database(Queue::Payment)))
    }

    fn notification_store(&self) -> Arc<dyn NotificationStore> {
        Arc::new(PgNotificationStore::new(self.database(Queue::Notification)))
    }

    fn query_store(&self) -> Arc<dyn QueryStore> {
        Arc::new(PgQueryStore::new(self.database(Queue::Query)))
    }

    fn analytics_store(&self) -> Arc<dyn AnalyticsStore> {
        Arc::new(PgAnalyticsStore::new(self.database(Queue::Analytics)))
    }

    fn archive(&self, blob_url: Option<&str>) -> anyhow::Result<Arc<dyn BlobStore>> {
        Ok(Arc::new(ObjectBlobStore::from_url(
            blob_url.unwrap_or("./archive"),
        )?))
    }

    fn view_cache(&self) -> Option<Arc<dyn ViewCache>> {
        self.view_cache
            .clone()
            .map(|cache| cache as Arc<dyn ViewCache>)
    }

    fn outbox(&self, service: Queue) -> Arc<dyn OutboxReader> {
        Arc::new(PgOutbox::new(self.database(service)))
    }

    fn consumer(&self, queue: Queue) -> Arc<dyn QueueConsumer> {
        match &self.stream {
            Some(stream) if queue == Queue::Analytics => stream.consumer.clone(),
            _ => Arc::new(self.amqp.consumer(queue)),
        }
    }

    fn forwarder(&self, queue: Queue) -> Option<Arc<dyn Handler>> {
        match &self.stream {
            Some(stream) if queue == Queue::Analytics => Some(stream.forwarder.clone()),
            _ => None,
        }
    }

    fn queue_consumer(&self, queue: Queue) -> Arc<dyn QueueConsumer> {
        Arc::new(self.amqp.consumer(queue))
    }

    fn publisher(&self) -> Arc<dyn Publisher> {
        Arc::new(self.amqp.clone())
    }

    fn sole_process(&self) -> bool {
        false
    }
}

impl Scaled {
    /// Connects to the backends, starts the named services and listens for HTTP.
    ///
    /// # Errors
    /// When a backend cannot be reached at start or the address cannot be bound.
    pub async fn start(services: &[ServiceName], config: &ServeConfig) -> anyhow::Result<Self> {
        if !config.identity.has_key() {
            anyhow::bail!(
                "no key for customer tokens: set ORDERFLOW_JWT_SECRET (at least 16 characters, \
                 the same in every process), ORDERFLOW_JWT_PUBLIC_KEY or ORDERFLOW_JWT_JWKS"
            );
        }
        let auth = config.identity.authenticator(&config.admin_token)?;
        // The analytics group's member is static, named after this process's address unless
        // named by ORDERFLOW_KAFKA_INSTANCE_ID.
        let mut backends = config.backends.clone();
        if backends.kafka_instance_id.is_none() {
            backends.kafka_instance_id = transport_kafka::instance_of(config.listen);
        }
        let backends = &backends;
        let local: Vec<Queue> = services.iter().filter_map(|s| s.queue()).collect();
        if !local.is_empty() {
            create_database_if_missing(&backends.database_url).await?;
        }
        // Every process declares the whole topology, so no message is published to a queue
        // whose consumer has not started yet.
        let amqp = AmqpTransport::connect(
            &backends.amqp_url,
            AmqpSettings {
                prefix: backends.amqp_prefix.clone(),
                retry: config.settings.retry_policy(),
                ..AmqpSettings::default()
            },
        )
        .await
        .context("connect to RabbitMQ")?;
        let adapters = PgAdapters::connect(&local, backends, amqp.clone()).await?;
        let mut supervisor = Supervisor::new();
        let mut ports = LocalPorts::default();
        for &service in &local {
            start_service(
                service,
                &adapters,
                &config.settings,
                &mut supervisor,
                &mut ports,
            )
            .await?;
        }
        let databases: Vec<(PgDatabase, PgOutbox)> = local
            .iter()
            .map(|&queue| {
                let database = adapters.database(queue);
                (database.clone(), PgOutbox::new(database))
            })
            .collect();
        let readiness = Arc::new(ScaledReadiness {
            databases: databases.clone(),
            amqp: amqp.clone(),
            redis: adapters.view_cache.clone(),
            kafka: backends
                .kafka()
                .map(|settings| StreamLag::new(&settings))
                .transpose()?,
            orders: ports.order_service.clone(),
            stopping: supervisor.token(),
        });
        let peers = &config.peers;
        let remote = |service: Queue| {
            let url = (peers.url(service)).context("the API calls no such service")?;
            Remote::new(url, &config.admin_token).map(Arc::new)
        };
        let state = ports.into_api(remote, Arc::new(amqp), readiness, auth)?;
        let addr = crate::http::serve(&mut supervisor, config.listen, state, &config.http).await?;
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
