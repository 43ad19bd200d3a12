//! The analytics stream on a Kafka-protocol broker, scaled out, when `KAFKA_BROKERS` is set.
//!
//! - [`KafkaForwarder`] is the handler that moves the RabbitMQ `analytics` queue onto the
//!   topic: it produces each event with an idempotent producer (`enable.idempotence`,
//!   `acks=all`) and answers only once the broker acknowledged it, so the consumer loop acks the
//!   queue's delivery only then. The outbox stays the only writer; an outage of the broker is
//!   `HandleError::Unavailable`, waited out without end, and only lets the queue grow.
//! - [`KafkaQueueConsumer`] is the `QueueConsumer` the analytics service reads the topic
//!   through, as member of a consumer group, committing a partition's offset only up to the
//!   first event of it that is not settled yet (in order per partition).
//! - [`ensure_topic`] creates the topic; [`StreamLag`] measures the group's lag.
//!
//! Records are keyed by the order (the envelope's correlation id), so one order's events stay
//! in one partition; the value is the JSON envelope, as on every other transport, and the
//! `traceparent` travels as a header too. This crate never decides whether a message is
//! poison: the consumer loop in `transport` does; where poison is parked is the caller's
//! [`DeadLetterSink`].

mod admin;
mod consumer;
mod forwarder;
mod offsets;
mod record;
pub mod testing;

use async_trait::async_trait;
use contracts::Envelope;
use rdkafka::ClientConfig;
use transport::TransportError;

pub use admin::{StreamLag, ensure_topic};
pub use consumer::KafkaQueueConsumer;
pub use forwarder::KafkaForwarder;

/// The topic of the analytics stream unless configured otherwise.
pub const DEFAULT_TOPIC: &str = "orderflow.events";
/// The analytics service's consumer group unless configured otherwise.
pub const DEFAULT_GROUP: &str = "orderflow-analytics";

/// Where the stream is and how it is shaped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaSettings {
    /// `host:port[,host:port…]` (`bootstrap.servers`).
    pub brokers: String,
    pub topic: String,
    /// Partitions of the topic when this process creates it (an existing topic is left as is).
    pub partitions: i32,
    /// Replicas of each partition when this process creates the topic.
    pub replication: i32,
    /// The consumer group of the analytics service.
    pub group: String,
    /// This process's `group.instance.id` in the group (static membership), `None` for a
    /// dynamic member. It must be unique among the group's live members and the same when the
    /// process starts again: the restarted process then takes its predecessor's place and
    /// partitions, even after a `kill -9` (see [`KafkaQueueConsumer`]).
    pub instance: Option<String>,
}

impl KafkaSettings {
    /// The defaults on `brokers`: topic `orderflow.events`, 6 partitions, 1 replica, group
    /// `orderflow-analytics`, a dynamic member.
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            topic: DEFAULT_TOPIC.to_owned(),
            partitions: 6,
            replication: 1,
            group: DEFAULT_GROUP.to_owned(),
            instance: None,
        }
    }

    /// What every client of the broker shares.
    fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", "orderflow")
            // librdkafka logs through its own channel; errors surface as results.
            .set("log_level", "4");
        config
    }
}

/// A `group.instance.id` for the process listening on `listen`: `<host>-<address>-<port>`,
/// unique among a host's live processes (each listens on an address of its own) and the same
/// when the process starts again on its address; `None` when the port is 0 (chosen at bind, so
/// neither unique nor stable). Characters Kafka refuses in the id (`:`, `[`, …) become `-`.
pub fn instance_of(listen: std::net::SocketAddr) -> Option<String> {
    if listen.port() == 0 {
        return None;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let id: String = format!("{host}-{}-{}", listen.ip(), listen.port())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    Some(id)
}

/// Where a message read from the stream is parked when it is poison: the store every other
/// dead letter of the analytics queue goes to, so that operators list, replay and discard it
/// there (a replay puts it back on the queue the forwarder reads, hence onto the stream).
#[async_trait]
pub trait DeadLetterSink: Send + Sync {
    /// Parks `body` as it was read, with the envelope it holds (`None` when it holds none),
    /// the last error and the attempts charged.
    ///
    /// # Errors
    /// [`TransportError`] when nothing was parked; the message is then handed out again.
    async fn park(
        &self,
        body: Vec<u8>,
        envelope: Option<&Envelope>,
        error: &str,
        attempts: u32,
    ) -> Result<(), TransportError>;
}

fn unavailable(error: impl Into<anyhow::Error>) -> TransportError {
    TransportError(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_is_named_after_its_host_and_address_in_the_characters_kafka_takes() {
        let id = instance_of("127.0.0.1:8086".parse().expect("address")).expect("an id");
        assert!(id.ends_with("-127.0.0.1-8086"), "{id}");
        let v6 = instance_of("[::1]:8096".parse().expect("address")).expect("an id");
        assert!(v6.ends_with("---1-8096"), "{v6}");
        assert!(
            (id + &v6)
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        );
        assert_eq!(instance_of("127.0.0.1:0".parse().expect("address")), None);
    }
}
