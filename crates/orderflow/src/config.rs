//! One typed configuration, read once from flags and the environment and passed down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use analytics_service::archive::ArchiveSettings;
use clap::Args;
use gateway::limits::{RateLimit, RequestLimits};
use gateway::server::ConnectionLimits;
use order_service::{AdmissionSettings, InFlightLimit, SagaDeadlines};
use payment_service::SimulatedGatewaySettings;
use transport::RetryPolicy;
use transport::faults::Faults;

use crate::identity::IdentitySettings;
use notification_smtp::SmtpUrl;

/// Who customer emails come from, unless `SMTP_FROM` says otherwise.
const DEFAULT_SMTP_FROM: &str = "Orderflow <orders@orderflow.localhost>";

/// How the services behave, whatever they run on.
#[derive(Clone, Debug, Args)]
pub struct ServiceSettings {
    /// Attempts a failing message gets before it is dead-lettered.
    #[arg(long, env = "ORDERFLOW_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,

    /// First retry delay in milliseconds; doubles with every retry.
    #[arg(long, env = "ORDERFLOW_RETRY_DELAY_MS", default_value_t = 200)]
    pub retry_delay_ms: u64,

    /// Longest retry delay in milliseconds.
    #[arg(long, env = "ORDERFLOW_RETRY_MAX_DELAY_MS", default_value_t = 30_000)]
    pub retry_max_delay_ms: u64,

    /// How long the saga waits for a stock reservation, in milliseconds.
    #[arg(long, env = "ORDERFLOW_STOCK_DEADLINE_MS", default_value_t = 30_000)]
    pub stock_deadline_ms: u64,

    /// How long the saga waits for a payment, in milliseconds.
    #[arg(long, env = "ORDERFLOW_PAYMENT_DEADLINE_MS", default_value_t = 30_000)]
    pub payment_deadline_ms: u64,

    /// Latency of the simulated payment gateway, in milliseconds.
    #[arg(long, env = "ORDERFLOW_PAYMENT_LATENCY_MS", default_value_t = 0)]
    pub payment_latency_ms: u64,

    /// Share of simulated gateway calls that fail transiently (0 to 1); they are retried.
    #[arg(long, env = "ORDERFLOW_PAYMENT_FAILURE_RATE", default_value_t = 0.0)]
    pub payment_failure_rate: f64,

    /// How long the simulated gateway leaves a charge with the test token `tok_chargeHeld`
    /// unanswered, in milliseconds.
    #[arg(long, env = "ORDERFLOW_PAYMENT_HOLD_MS", default_value_t = 10_000)]
    pub payment_hold_ms: u64,

    /// Orders in flight (placed, not yet completed or cancelled) at which the order service
    /// refuses new ones with `503`: `auto` (what ends within the admission target at the
    /// completion rate measured, at least 64), or a number. Each order process decides alone.
    #[arg(long, env = "ORDERFLOW_MAX_IN_FLIGHT", default_value = "auto")]
    pub max_in_flight: InFlightLimit,

    /// How long an order accepted under load should take at most, in milliseconds; the `auto`
    /// limit admits what ends in this time. Default: a tenth of the shorter step deadline.
    #[arg(long, env = "ORDERFLOW_ADMISSION_TARGET_MS")]
    pub admission_target_ms: Option<u64>,

    /// Concurrent consumers per queue in this process. Default: 2 embedded (one SQLite writer
    /// a service: more only wake to find nothing, measured), 4 scaled out.
    #[arg(long, env = "ORDERFLOW_CONSUMERS", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub consumers: Option<u32>,

    /// How long an `Idempotency-Key` holds, e.g. `24h`, `30m`; a key is the caller's own.
    #[arg(long, env = "ORDERFLOW_IDEMPOTENCY_TTL", value_parser = crate::identity::parse_ttl, default_value = "24h")]
    pub idempotency_ttl: Duration,

    /// Mail server for customer emails, e.g. `smtps://user:pass@mail.example.com` or
    /// `smtp://127.0.0.1:2525`; without it emails only reach the mailbox (and the log).
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SmtpUrl>,

    /// Sender of customer emails.
    #[arg(long, env = "SMTP_FROM", default_value = DEFAULT_SMTP_FROM)]
    pub smtp_from: String,

    /// For tests only: inject delivery faults into every queue of this process, e.g.
    /// `seed=7,duplicate=0.3,republish=0.1,reorder=8,delay=0.2:300ms,drop_ack=0.1`.
    #[arg(long, env = "ORDERFLOW_FAULTS")]
    pub faults: Option<Faults>,

    /// Where the analytics archive's files go: `file:///absolute/dir` or a directory. By
    /// default `<data dir>/archive` embedded, `./archive` for `serve analytics`.
    #[arg(long, env = "BLOB_URL")]
    pub blob_url: Option<String>,

    /// At most this many events in one archive file.
    #[arg(long, env = "ORDERFLOW_ARCHIVE_MAX_EVENTS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub archive_max_events: u64,

    /// An archive file is cut once its events reach this many bytes of JSON.
    #[arg(long, env = "ORDERFLOW_ARCHIVE_MAX_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub archive_max_bytes: u64,

    /// An archive file is cut this many milliseconds after its first event was kept.
    #[arg(long, env = "ORDERFLOW_ARCHIVE_MAX_AGE_MS", default_value_t = 60_000)]
    pub archive_max_age_ms: u64,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            retry_delay_ms: 200,
            retry_max_delay_ms: 30_000,
            stock_deadline_ms: 30_000,
            payment_deadline_ms: 30_000,
            payment_latency_ms: 0,
            payment_failure_rate: 0.0,
            payment_hold_ms: 10_000,
            max_in_flight: InFlightLimit::Auto,
            admission_target_ms: None,
            consumers: None,
            idempotency_ttl: order_service::DEFAULT_IDEMPOTENCY_TTL,
            smtp_url: None,
            smtp_from: DEFAULT_SMTP_FROM.to_owned(),
            faults: None,
            blob_url: None,
            archive_max_events: 10_000,
            archive_max_bytes: 8 * 1024 * 1024,
            archive_max_age_ms: 60_000,
        }
    }
}

impl ServiceSettings {
    /// Consumers per queue: as set, or the default of the mode (`embedded`: every service on
    /// SQLite in this one process).
    pub fn consumers(&self, embedded: bool) -> u32 {
        self.consumers.unwrap_or(if embedded { 2 } else { 4 })
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            initial_delay: Duration::from_millis(self.retry_delay_ms),
            max_delay: Duration::from_millis(self.retry_max_delay_ms.max(self.retry_delay_ms)),
        }
    }

    pub fn saga_deadlines(&self) -> SagaDeadlines {
        SagaDeadlines {
            stock: Duration::from_millis(self.stock_deadline_ms),
            payment: Duration::from_millis(self.payment_deadline_ms),
        }
    }

    pub fn admission_settings(&self) -> AdmissionSettings {
        let derived = AdmissionSettings::for_deadlines(&self.saga_deadlines());
        AdmissionSettings {
            limit: self.max_in_flight,
            target: self
                .admission_target_ms
                .map_or(derived.target, Duration::from_millis),
        }
    }

    pub fn archive_settings(&self) -> ArchiveSettings {
        ArchiveSettings {
            max_events: usize::try_from(self.archive_max_events).unwrap_or(usize::MAX),
            max_bytes: self.archive_max_bytes.max(1),
            max_age: Duration::from_millis(self.archive_max_age_ms),
            ..ArchiveSettings::default()
        }
    }

    pub fn gateway_settings(&self) -> SimulatedGatewaySettings {
        SimulatedGatewaySettings {
            latency: Duration::from_millis(self.payment_latency_ms),
            transient_failure_rate: self.payment_failure_rate.clamp(0.0, 1.0),
            hold: Duration::from_millis(self.payment_hold_ms),
        }
    }
}

/// How to run the embedded system.
#[derive(Clone, Debug, Args)]
pub struct RunConfig {
    /// Address of the HTTP API.
    #[arg(long, env = "ORDERFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory of the service databases (created if missing).
    #[arg(long, env = "ORDERFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Bearer token for the admin endpoints (at least 16 characters); generated and kept in
    /// the data dir when unset.
    #[arg(long, env = "ORDERFLOW_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    #[command(flatten)]
    pub identity: IdentitySettings,

    /// Where the services keep their state and exchange messages: SQLite files and the SQL
    /// queue (`embedded`), or PostgreSQL, RabbitMQ and Redis (`scaled`, all services still in
    /// this process).
    #[arg(long, env = "ORDERFLOW_BACKEND", value_enum, default_value_t = Backend::Embedded)]
    pub backend: Backend,

    #[command(flatten)]
    pub backends: Backends,

    #[command(flatten)]
    pub settings: ServiceSettings,

    #[command(flatten)]
    pub http: HttpSettings,
}

/// An in-flight limit no test reaches.
pub const UNLIMITED_IN_FLIGHT: u64 = 1_000_000;

/// The kind of backends `orderflow run` uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Embedded,
    Scaled,
}

impl RunConfig {
    /// Defaults for `data_dir`, listening on a free port, with short retry delays and no
    /// admission limit to speak of (tests fire hundreds of orders at a system that has not
    /// measured its rate yet; admission has tests of its own): what tests start from.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            admin_token: Some("test-admin-token".to_owned()),
            identity: IdentitySettings::default(),
            backend: Backend::Embedded,
            backends: Backends::default(),
            settings: ServiceSettings {
                retry_delay_ms: 20,
                retry_max_delay_ms: 500,
                max_in_flight: InFlightLimit::Fixed(UNLIMITED_IN_FLIGHT),
                ..ServiceSettings::default()
            },
            // Tests load the server from one address far past any per-client limit; a test of
            // the limit sets its own.
            http: HttpSettings {
                rate_limit: 0,
                ..HttpSettings::default()
            },
        }
    }
}

/// The backends of the scaled-out mode.
#[derive(Clone, Debug, Args)]
pub struct Backends {
    /// PostgreSQL; each service keeps its own schema in this database (created if missing).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/orderflow"
    )]
    pub database_url: String,

    /// RabbitMQ.
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    pub amqp_url: String,

    /// Prefix of every exchange and queue name, to share a broker between installations.
    #[arg(long, env = "ORDERFLOW_AMQP_PREFIX", default_value = "")]
    pub amqp_prefix: String,

    /// Redis, for the cache of order views.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// Prefix of every Redis key.
    #[arg(long, env = "ORDERFLOW_REDIS_PREFIX", default_value = "orderflow:")]
    pub redis_prefix: String,

    /// How long a cached order view lives, in seconds.
    #[arg(long, env = "ORDERFLOW_CACHE_TTL_SECS", default_value_t = 300)]
    pub cache_ttl_secs: u64,

    /// Kafka-protocol brokers (`host:port,…`). When set, the analytics stream is a Kafka topic:
    /// the analytics process forwards its RabbitMQ queue onto it and consumes it as a group.
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,

    /// The analytics stream's topic (with `KAFKA_BROKERS`).
    #[arg(long, env = "ORDERFLOW_KAFKA_TOPIC", default_value = transport_kafka::DEFAULT_TOPIC)]
    pub kafka_topic: String,

    /// Partitions of the topic, when the analytics process creates it.
    #[arg(long, env = "ORDERFLOW_KAFKA_PARTITIONS", default_value_t = 6, value_parser = clap::value_parser!(i32).range(1..))]
    pub kafka_partitions: i32,

    /// Replicas of each partition, when the analytics process creates the topic.
    #[arg(long, env = "ORDERFLOW_KAFKA_REPLICATION", default_value_t = 1, value_parser = clap::value_parser!(i32).range(1..))]
    pub kafka_replication: i32,

    /// The analytics service's consumer group.
    #[arg(long, env = "ORDERFLOW_KAFKA_GROUP", default_value = transport_kafka::DEFAULT_GROUP)]
    pub kafka_group: String,

    /// This process's `group.instance.id` in the analytics group (static membership): unique
    /// among the group's live members and the same when the process starts again, so that a
    /// restart (after a `kill -9` too) takes its predecessor's partitions back. Unset: derived
    /// from the host and `ORDERFLOW_LISTEN` (`<host>-<address>-<port>`); empty, or listening
    /// on port 0: a dynamic member.
    #[arg(long, env = "ORDERFLOW_KAFKA_INSTANCE_ID")]
    pub kafka_instance_id: Option<String>,
}

impl Backends {
    /// The analytics stream's Kafka settings; `None` without `KAFKA_BROKERS` (the stream is
    /// then the RabbitMQ queue itself).
    pub fn kafka(&self) -> Option<transport_kafka::KafkaSettings> {
        let brokers = self.kafka_brokers.as_deref().map(str::trim)?;
        if brokers.is_empty() {
            return None;
        }
        Some(transport_kafka::KafkaSettings {
            brokers: brokers.to_owned(),
            topic: self.kafka_topic.clone(),
            partitions: self.kafka_partitions,
            replication: self.kafka_replication,
            group: self.kafka_group.clone(),
            instance: self
                .kafka_instance_id
                .as_deref()
                .map(str::trim)
                .filter(|instance| !instance.is_empty())
                .map(str::to_owned),
        })
    }
}

impl Default for Backends {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/orderflow".to_owned(),
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
            amqp_prefix: String::new(),
            redis_url: "redis://127.0.0.1:6379".to_owned(),
            redis_prefix: "orderflow:".to_owned(),
            cache_ttl_secs: 300,
            kafka_brokers: None,
            kafka_topic: transport_kafka::DEFAULT_TOPIC.to_owned(),
            kafka_partitions: 6,
            kafka_replication: 1,
            kafka_group: transport_kafka::DEFAULT_GROUP.to_owned(),
            kafka_instance_id: None,
        }
    }
}

/// Where the other services of a scaled-out installation answer HTTP.
#[derive(Clone, Debug, Args)]
pub struct Peers {
    #[arg(
        long,
        env = "ORDERFLOW_ORDER_URL",
        default_value = "http://127.0.0.1:8081"
    )]
    pub order_url: String,
    #[arg(
        long,
        env = "ORDERFLOW_INVENTORY_URL",
        default_value = "http://127.0.0.1:8082"
    )]
    pub inventory_url: String,
    #[arg(
        long,
        env = "ORDERFLOW_NOTIFICATION_URL",
        default_value = "http://127.0.0.1:8084"
    )]
    pub notification_url: String,
    #[arg(
        long,
        env = "ORDERFLOW_QUERY_URL",
        default_value = "http://127.0.0.1:8085"
    )]
    pub query_url: String,
    #[arg(
        long,
        env = "ORDERFLOW_ANALYTICS_URL",
        default_value = "http://127.0.0.1:8086"
    )]
    pub analytics_url: String,
}

impl Peers {
    /// Where `service` answers HTTP; `None` for the payment service, which the API never
    /// calls.
    pub fn url(&self, service: contracts::Queue) -> Option<&str> {
        match service {
            contracts::Queue::Order => Some(&self.order_url),
            contracts::Queue::Inventory => Some(&self.inventory_url),
            contracts::Queue::Notification => Some(&self.notification_url),
            contracts::Queue::Query => Some(&self.query_url),
            contracts::Queue::Analytics => Some(&self.analytics_url),
            contracts::Queue::Payment => None,
        }
    }
}

impl Default for Peers {
    fn default() -> Self {
        Self {
            order_url: "http://127.0.0.1:8081".to_owned(),
            inventory_url: "http://127.0.0.1:8082".to_owned(),
            notification_url: "http://127.0.0.1:8084".to_owned(),
            query_url: "http://127.0.0.1:8085".to_owned(),
            analytics_url: "http://127.0.0.1:8086".to_owned(),
        }
    }
}

/// How to run some services as one process of a scaled-out installation.
#[derive(Clone, Debug, Args)]
pub struct ServeConfig {
    /// Address of this process's HTTP API (health, metrics, and the routes of its services).
    #[arg(long, env = "ORDERFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Bearer token for the admin endpoints (at least 16 characters); the same for every
    /// process of an installation.
    #[arg(long, env = "ORDERFLOW_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: String,

    /// The customer tokens' keys: the same for every process of an installation, and at
    /// least one is needed.
    #[command(flatten)]
    pub identity: IdentitySettings,

    #[command(flatten)]
    pub backends: Backends,

    #[command(flatten)]
    pub peers: Peers,

    #[command(flatten)]
    pub settings: ServiceSettings,

    #[command(flatten)]
    pub http: HttpSettings,
}

/// The limits of the HTTP server, on requests and on connections.
#[derive(Clone, Debug, Args)]
pub struct HttpSettings {
    /// Longest time to answer a request, its body read included, in milliseconds; then 408.
    #[arg(long, env = "ORDERFLOW_REQUEST_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout_ms: u64,

    /// Longest time for a request's head to arrive, in milliseconds, from when a connection
    /// opens or sent its last answer: also how long an idle keep-alive connection is kept.
    #[arg(long, env = "ORDERFLOW_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,

    /// Most connections open at once; more wait to be accepted.
    #[arg(long, env = "ORDERFLOW_MAX_CONNECTIONS", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Requests per second per client IP address, refilled continuously; 0 for no limit.
    #[arg(long, env = "ORDERFLOW_RATE_LIMIT", default_value_t = 500)]
    pub rate_limit: u32,

    /// Requests a client may send at once before the rate applies.
    #[arg(long, env = "ORDERFLOW_RATE_LIMIT_BURST", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_limit_burst: u32,

    /// One trace in your trace viewer, `{trace_id}` standing for its id, e.g.
    /// `http://127.0.0.1:16686/trace/{trace_id}`: the dashboard's order page links there.
    #[arg(long, env = "ORDERFLOW_TRACE_URL")]
    pub trace_url: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            header_read_timeout_ms: 10_000,
            max_connections: 1024,
            rate_limit: 500,
            rate_limit_burst: 1000,
            trace_url: None,
        }
    }
}

impl HttpSettings {
    pub fn request_limits(&self) -> RequestLimits {
        RequestLimits {
            timeout: Duration::from_millis(self.request_timeout_ms),
            rate: (self.rate_limit > 0).then_some(RateLimit {
                per_second: self.rate_limit,
                burst: self.rate_limit_burst,
            }),
        }
    }

    pub fn connection_limits(&self) -> ConnectionLimits {
        ConnectionLimits {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::Backends;

    #[derive(clap::Parser)]
    struct Parsed {
        #[command(flatten)]
        backends: Backends,
    }

    fn instance(args: &[&str]) -> Option<String> {
        let parsed = Parsed::try_parse_from(
            ["orderflow", "--kafka-brokers", "127.0.0.1:9092"]
                .iter()
                .chain(args),
        )
        .expect("parsed");
        parsed.backends.kafka().expect("kafka settings").instance
    }

    #[test]
    fn an_empty_kafka_instance_id_makes_a_dynamic_member_and_a_named_one_a_static_member() {
        assert_eq!(instance(&["--kafka-instance-id", ""]), None);
        assert_eq!(instance(&["--kafka-instance-id", "  "]), None);
        assert_eq!(
            instance(&["--kafka-instance-id", "analytics-a"]),
            Some("analytics-a".to_owned())
        );
    }
}
