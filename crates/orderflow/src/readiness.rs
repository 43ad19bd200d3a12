//! Readiness of one process: its databases (with their outbox lag, also exported as a
//! metric), every queue's depth and consumers (metrics only), the analytics stream's lag
//! (messages waiting in its queue, plus, on Kafka, the consumer group's lag on the topic; also
//! a metric; never a reason to be unready: analytics behind must not take the saga out of
//! rotation), its broker
//! connection, its cache, whether its background tasks still run, and
//! what the order service's admission sees. A check that fails names the technology that does
//! not answer.

use std::sync::Arc;

use async_trait::async_trait;
use cache_redis::RedisViewCache;
use contracts::Queue;
use gateway::{Readiness, ReadinessCheck};
use order_service::OrderService;
use store::OutboxReader;
use store_postgres::{PgDatabase, PgOutbox};
use store_sqlite::{Databases, SqliteOutbox, SqliteQueue};
use tokio_util::sync::CancellationToken;
use transport_amqp::AmqpTransport;
use transport_kafka::StreamLag;

/// The embedded mode: every service database answers, no background task has stopped.
pub(crate) struct EmbeddedReadiness {
    pub(crate) databases: Databases,
    /// Consumers of each queue: this process's, the only one.
    pub(crate) consumers: u32,
    pub(crate) orders: Option<Arc<OrderService>>,
    pub(crate) stopping: CancellationToken,
}

#[async_trait]
impl ReadinessCheck for EmbeddedReadiness {
    async fn check(&self) -> Vec<Readiness> {
        let mut checks = Vec::new();
        for database in self.databases.all() {
            let outbox = SqliteOutbox::new(database.clone());
            let ready = database.ping().await;
            checks.push(database_check(database.service().name(), "sqlite", ready, &outbox).await);
        }
        let queues = SqliteQueue::new(self.databases.clone());
        let mut stream_lag = None;
        for queue in Queue::ALL {
            if let Ok(depth) = queues.depth(queue).await {
                queue_gauges(queue, depth, u64::from(self.consumers));
                stream_lag = stream_lag.or((queue == Queue::Analytics).then_some(depth));
            }
        }
        checks.push(stream_check(stream_lag));
        checks.extend(self.orders.as_deref().map(admission_check));
        checks.push(workers_check(&self.stopping));
        checks
    }
}

/// A scaled-out process: its services' schemas, RabbitMQ, Redis if it runs the query service,
/// and its background tasks.
pub(crate) struct ScaledReadiness {
    pub(crate) databases: Vec<(PgDatabase, PgOutbox)>,
    pub(crate) amqp: AmqpTransport,
    pub(crate) redis: Option<Arc<RedisViewCache>>,
    /// The analytics stream's consumer group on Kafka, with `KAFKA_BROKERS`.
    pub(crate) kafka: Option<StreamLag>,
    pub(crate) orders: Option<Arc<OrderService>>,
    pub(crate) stopping: CancellationToken,
}

#[async_trait]
impl ReadinessCheck for ScaledReadiness {
    async fn check(&self) -> Vec<Readiness> {
        let mut checks = Vec::new();
        for (database, outbox) in &self.databases {
            let ready = database.ping().await;
            checks
                .push(database_check(database.service().name(), "postgresql", ready, outbox).await);
        }
        let broker_ready = self.amqp.ping().await;
        checks.push(Readiness {
            name: "rabbitmq".to_owned(),
            ready: broker_ready,
            detail: (!broker_ready).then(|| "rabbitmq does not answer".to_owned()),
        });
        let mut queued = None;
        if broker_ready {
            for queue in Queue::ALL {
                if let Ok(stats) = self.amqp.queue_stats(queue).await {
                    queue_gauges(queue, stats.messages, stats.consumers);
                    queued = queued.or((queue == Queue::Analytics).then_some(stats.messages));
                }
            }
        }
        match &self.kafka {
            None if broker_ready => checks.push(stream_check(queued)),
            None => {}
            Some(kafka) => {
                let on_topic = kafka.lag().await.ok();
                checks.push(kafka_stream_check(queued, on_topic));
            }
        }
        if let Some(cache) = &self.redis {
            let cache_ready = cache.ping().await;
            checks.push(Readiness {
                name: "redis".to_owned(),
                ready: cache_ready,
                detail: (!cache_ready).then(|| {
                    "redis does not answer; views are read from the read model".to_owned()
                }),
            });
        }
        checks.extend(self.orders.as_deref().map(admission_check));
        checks.push(workers_check(&self.stopping));
        checks
    }
}

/// A service database, with its outbox lag as detail and as the `orderflow_outbox_lag` gauge;
/// a database that does not answer is named by its `technology`, and its lag is not asked for
/// (that would wait for a connection the pool cannot make).
async fn database_check(
    service: &'static str,
    technology: &str,
    ready: bool,
    outbox: &dyn OutboxReader,
) -> Readiness {
    if !ready {
        return Readiness {
            name: format!("{service}-database"),
            ready,
            detail: Some(format!("{technology} does not answer")),
        };
    }
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

/// `orderflow_queue_depth` and `orderflow_queue_consumers` of `queue`: messages waiting in it,
/// and consumers reading it (a queue read by none grows without end).
#[expect(clippy::cast_precision_loss, reason = "gauges")]
fn queue_gauges(queue: Queue, depth: u64, consumers: u64) {
    metrics::gauge!("orderflow_queue_depth", "queue" => queue.name()).set(depth as f64);
    metrics::gauge!("orderflow_queue_consumers", "queue" => queue.name()).set(consumers as f64);
}

/// The analytics stream's lag: messages waiting for the analytics service, as detail and as
/// the `orderflow_analytics_stream_lag` gauge. Always ready: the saga does not wait for it.
fn stream_check(lag: Option<u64>) -> Readiness {
    let detail = lag.map_or_else(
        || "lag unknown: its queue cannot be read".to_owned(),
        |lag| format!("lag {lag}"),
    );
    stream_readiness(lag, detail)
}

/// The analytics stream's lag on Kafka: the events still in the RabbitMQ queue (not yet
/// forwarded) plus the consumer group's lag on the topic, as detail and as the
/// `orderflow_analytics_stream_lag` gauge. When one of the two cannot be read, the other is
/// shown and exported as a lower bound. Always ready, like [`stream_check`].
fn kafka_stream_check(queued: Option<u64>, on_topic: Option<u64>) -> Readiness {
    let (lag, detail) = match (queued, on_topic) {
        (Some(queued), Some(on_topic)) => (
            Some(queued + on_topic),
            format!(
                "lag {}: {queued} in the queue, {on_topic} on the topic",
                queued + on_topic
            ),
        ),
        (Some(queued), None) => (
            Some(queued),
            format!(
                "lag at least {queued}: {queued} in the queue, the topic's lag unknown (kafka does not answer)"
            ),
        ),
        (None, Some(on_topic)) => (
            Some(on_topic),
            format!("lag at least {on_topic}: {on_topic} on the topic, the queue cannot be read"),
        ),
        (None, None) => (
            None,
            "lag unknown: neither the queue nor the topic can be read".to_owned(),
        ),
    };
    stream_readiness(lag, detail)
}

/// The stream's check, always ready, with `lag` (when known) as the
/// `orderflow_analytics_stream_lag` gauge.
fn stream_readiness(lag: Option<u64>, detail: String) -> Readiness {
    if let Some(lag) = lag {
        #[expect(clippy::cast_precision_loss, reason = "a gauge")]
        metrics::gauge!("orderflow_analytics_stream_lag").set(lag as f64);
    }
    Readiness {
        name: "analytics-stream".to_owned(),
        ready: true,
        detail: Some(detail),
    }
}

/// What admission sees. An overloaded order service is ready: it answers, and refuses what it
/// cannot finish in time; taking it out of rotation would only move its load elsewhere.
fn admission_check(orders: &OrderService) -> Readiness {
    Readiness {
        name: "order-admission".to_owned(),
        ready: true,
        detail: Some(orders.admission().to_string()),
    }
}

fn workers_check(stopping: &CancellationToken) -> Readiness {
    Readiness {
        name: "workers".to_owned(),
        ready: !stopping.is_cancelled(),
        detail: stopping.is_cancelled().then(|| "shutting down".to_owned()),
    }
}
