use std::time::Duration;

use async_trait::async_trait;
use contracts::{Envelope, Queue};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// A transport failure. Always transient from the caller's point of view: retry later.
#[derive(Debug, thiserror::Error)]
#[error("transport unavailable")]
pub struct TransportError(#[source] pub anyhow::Error);

impl From<store::StoreError> for TransportError {
    fn from(error: store::StoreError) -> Self {
        Self(anyhow::Error::new(error))
    }
}

/// Publishes messages to every queue that subscribes to their type.
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Returns once every message is durably accepted (confirmed) by the transport.
    ///
    /// # Errors
    /// [`TransportError`] when any message may not have been accepted; the caller publishes
    /// the whole batch again (consumers deduplicate).
    async fn publish(&self, batch: &[Envelope]) -> Result<(), TransportError>;
}

/// One delivery of a message to a consumer.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// Transport-specific handle to settle this delivery.
    pub tag: i64,
    pub envelope: Envelope,
    /// Failed attempts charged to the message so far (outages are not charged).
    pub attempts: u32,
    /// How many times it was handed out before, for any reason.
    pub redeliveries: u32,
}

/// Receives and settles the messages of one queue. Several may run at once (competing
/// consumers): each delivery goes to one of them.
#[async_trait]
pub trait QueueConsumer: Send + Sync {
    fn queue(&self) -> Queue;

    /// Up to `max` messages that are due, leased to this consumer.
    ///
    /// # Errors
    /// [`TransportError`] when the queue cannot be read.
    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, TransportError>;

    /// Waits until messages may be due, or `timeout` passes.
    async fn wait_for_messages(&self, timeout: Duration);

    /// The message is handled: remove it.
    ///
    /// # Errors
    /// [`TransportError`]; the message is then delivered again and deduplicated by the inbox.
    async fn ack(&self, delivery: &Delivery) -> Result<(), TransportError>;

    /// Every message of one receive is handled: remove them all. Called only after every
    /// delivery this consumer received before them is settled. A transport that can settle
    /// them in one exchange with its broker does.
    ///
    /// # Errors
    /// [`TransportError`]; the messages not removed are then delivered again and deduplicated
    /// by the inbox.
    async fn ack_all(&self, deliveries: &[Delivery]) -> Result<(), TransportError> {
        for delivery in deliveries {
            self.ack(delivery).await?;
        }
        Ok(())
    }

    /// Deliver the message again after `delay`; `charge_attempt` when it failed by its own fault.
    ///
    /// # Errors
    /// [`TransportError`]; the lease then expires and the message is delivered again.
    async fn retry(
        &self,
        delivery: &Delivery,
        delay: Duration,
        error: &str,
        charge_attempt: bool,
    ) -> Result<(), TransportError>;

    /// Park the message in the queue's dead-letter store with its error and attempt count.
    ///
    /// # Errors
    /// [`TransportError`]; the lease then expires and the message is delivered again.
    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), TransportError>;
}

/// A parked message.
#[derive(Clone, Debug, Serialize)]
pub struct DeadLetter {
    /// Stable id for replay and discard: `<queue>:<number>`.
    pub id: String,
    pub queue: Queue,
    pub envelope: Envelope,
    pub error: String,
    pub attempts: u32,
    #[serde(with = "time::serde::rfc3339")]
    pub dead_lettered_at: OffsetDateTime,
}

impl DeadLetter {
    /// What a dead letter shows for a body that is not an envelope (parked for that reason):
    /// an envelope of type `unknown` (or the type the transport's metadata named) whose
    /// payload is the raw body as text, so an operator sees exactly what arrived.
    pub fn undecodable_body(
        raw: &[u8],
        message_id: Option<Uuid>,
        message_type: Option<String>,
        parked_at: OffsetDateTime,
    ) -> Envelope {
        Envelope {
            message_id: message_id.unwrap_or_else(Uuid::nil),
            message_type: message_type.unwrap_or_else(|| "unknown".to_owned()),
            schema_version: 0,
            correlation_id: Uuid::nil(),
            causation_id: None,
            occurred_at: parked_at,
            traceparent: None,
            payload: serde_json::Value::String(String::from_utf8_lossy(raw).into_owned()),
        }
    }
}

/// Listing, replaying and discarding parked messages.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Every parked message, oldest first.
    ///
    /// # Errors
    /// [`TransportError`] when a dead-letter store cannot be read.
    async fn list(&self) -> Result<Vec<DeadLetter>, TransportError>;

    /// Puts a parked message back on its queue with a fresh attempt count; `false` if unknown.
    ///
    /// # Errors
    /// [`TransportError`] when the move fails (then nothing moved).
    async fn replay(&self, id: &str) -> Result<bool, TransportError>;

    /// Deletes a parked message for good; `false` if unknown.
    ///
    /// # Errors
    /// [`TransportError`] when the delete fails.
    async fn discard(&self, id: &str) -> Result<bool, TransportError>;
}
