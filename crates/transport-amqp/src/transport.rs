//! [`AmqpTransport`]: one connection to RabbitMQ shared by publishing, consuming and the
//! dead-letter store, with the topology declared on every (re)connect.

use std::sync::Arc;

use anyhow::Context as _;
use contracts::Queue;
use transport::{RetryPolicy, TransportError};

use crate::consumer::AmqpQueueConsumer;
use crate::session::{Connector, Session};
use crate::topology::Topology;

/// The longest name RabbitMQ accepts for a queue or an exchange, in bytes.
const MAX_NAME_BYTES: usize = 255;

/// How the transport names and shapes what it declares.
#[derive(Clone, Debug, PartialEq)]
pub struct AmqpSettings {
    /// Prepended to every exchange and queue name: empty in production, unique per test.
    pub prefix: String,
    /// The consumers' retry policy; the retry tiers are sized to cover its delays.
    pub retry: RetryPolicy,
    /// Unacknowledged deliveries a consumer holds at most.
    pub prefetch: u16,
    /// The queues this process consumes (every queue by default): their retry tiers are
    /// declared at connect (a consumer also declares its own before it starts). Every
    /// service's queue, dead-letter queue and bindings are declared whatever this says, so
    /// that no subscriber misses a message published before it started.
    pub queues: Vec<Queue>,
}

impl Default for AmqpSettings {
    fn default() -> Self {
        Self {
            prefix: String::new(),
            retry: RetryPolicy::default(),
            prefetch: 32,
            queues: Queue::ALL.to_vec(),
        }
    }
}

/// The RabbitMQ transport. Cheap to clone: clones share one connection.
///
/// When the connection or a channel dies (a broker restart), calls fail with
/// [`TransportError`] and the next call reconnects and declares the topology again.
/// Deliveries that were not acknowledged go back to their queues by themselves.
#[derive(Clone, Debug)]
pub struct AmqpTransport {
    connector: Arc<Connector>,
    prefetch: u16,
}

impl AmqpTransport {
    /// Connects to `url` (`amqp://user:password@host:port/vhost`) and declares the topology.
    ///
    /// # Errors
    /// When a name would be too long, the broker cannot be reached after a few tries, or it
    /// refuses the topology (for instance a queue exists with other arguments).
    pub async fn connect(url: &str, settings: AmqpSettings) -> anyhow::Result<Self> {
        let topology = Topology::new(&settings.prefix, &settings.queues, &settings.retry);
        let longest = topology
            .exchange_names()
            .into_iter()
            .chain(topology.queue_names())
            .map(|name| name.len())
            .max()
            .unwrap_or(0);
        anyhow::ensure!(
            longest <= MAX_NAME_BYTES,
            "the prefix makes names longer than {MAX_NAME_BYTES} bytes"
        );
        let connector = Arc::new(Connector::new(url, topology));
        connector
            .session()
            .await
            .map_err(|error| error.0)
            .context("open the rabbitmq transport")?;
        Ok(Self {
            connector,
            prefetch: settings.prefetch.max(1),
        })
    }

    /// A consumer of `queue`. Any number may run at once: each delivery goes to one. Its
    /// channel opens on the first `receive`, after declaring the queue's retry tiers.
    pub fn consumer(&self, queue: Queue) -> AmqpQueueConsumer {
        AmqpQueueConsumer::new(self.clone(), queue)
    }

    /// The names this transport declares.
    pub fn topology(&self) -> &Topology {
        self.connector.topology()
    }

    /// Whether the broker answers (reconnecting if needed, for at most two seconds); for
    /// readiness checks.
    pub async fn ping(&self) -> bool {
        self.connector.ping().await
    }

    /// How many messages wait in `queue` (ready ones; those delivered and not yet acknowledged
    /// are not counted): a consumer's lag, e.g. the analytics stream's.
    ///
    /// # Errors
    /// [`TransportError`] when the broker cannot be reached.
    pub async fn depth(&self, queue: Queue) -> Result<u64, TransportError> {
        Ok(self.queue_stats(queue).await?.messages)
    }

    /// What the broker says of `queue`: messages ready in it, and consumers reading it (of
    /// every process).
    ///
    /// # Errors
    /// [`TransportError`] when the broker cannot be reached.
    pub async fn queue_stats(&self, queue: Queue) -> Result<QueueStats, TransportError> {
        let session = self.session().await?;
        let channel = session.open_channel().await?;
        let name = self.topology().queue(queue);
        let declared = crate::session::within(
            "read a queue's counts",
            channel.queue_declare(
                lapin::types::ShortString::from(name.as_str()),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    ..lapin::options::QueueDeclareOptions::default()
                },
                lapin::types::FieldTable::default(),
            ),
        )
        .await?;
        let _ = channel.close(200, "counted".into()).await;
        Ok(QueueStats {
            messages: u64::from(declared.message_count()),
            consumers: u64::from(declared.consumer_count()),
        })
    }

    /// Closes the connection, as a broker restart would: consumers' channels close with it
    /// and their unacknowledged deliveries go back to the queues. The next call reconnects.
    pub async fn disconnect(&self) {
        self.connector.disconnect().await;
    }

    pub(crate) fn prefetch(&self) -> u16 {
        self.prefetch
    }

    pub(crate) async fn session(&self) -> Result<Session, TransportError> {
        self.connector.session().await
    }
}

/// A queue's counts as the broker reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueStats {
    /// Messages ready for delivery.
    pub messages: u64,
    /// Consumers reading the queue, of every process.
    pub consumers: u64,
}
