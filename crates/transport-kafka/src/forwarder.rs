//! Moves the analytics queue onto the topic: the handler of the queue's consumer loop.
//!
//! Each event is produced with an idempotent producer and the handler answers only when the
//! broker acknowledged it (`acks=all`), so the loop acks the queue's delivery after the event
//! is on the topic, never before. A broker that does not answer is an outage
//! (`HandleError::Unavailable`: retried without end, never dead-lettered), so during it the
//! queue grows and nothing is lost; a record the broker refuses for itself (too large) is the
//! message's fault. A batch is produced at once and its acknowledgements awaited together.

use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use contracts::Envelope;
use futures_util::future::join_all;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use transport::{HandleError, Handler};

use crate::KafkaSettings;
use crate::record;

/// How long a record may wait for the broker's acknowledgement before it counts as not
/// delivered (and is produced again after the outage backoff). Short, so that a stop of the
/// forwarder during an outage is not held up for long.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The analytics queue's handler when the stream runs on Kafka.
pub struct KafkaForwarder {
    producer: FutureProducer,
    topic: String,
}

impl std::fmt::Debug for KafkaForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaForwarder")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaForwarder {
    /// A producer for `settings.topic`; it connects lazily.
    ///
    /// # Errors
    /// When the configuration is refused (a malformed broker list).
    pub fn new(settings: &KafkaSettings) -> anyhow::Result<Self> {
        let producer: FutureProducer = settings
            .client_config()
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set(
                "message.timeout.ms",
                DELIVERY_TIMEOUT.as_millis().to_string(),
            )
            .create()
            .context("create the kafka producer")?;
        Ok(Self {
            producer,
            topic: settings.topic.clone(),
        })
    }

    /// Enqueues one record; its acknowledgement, or why it was not enqueued.
    fn enqueue(&self, envelope: &Envelope) -> Result<DeliveryFuture, HandleError> {
        let (key, value, headers) = record::encode(envelope)
            .map_err(|error| HandleError::Rejected(anyhow::Error::new(error)))?;
        let record = FutureRecord::to(&self.topic)
            .key(&key)
            .payload(&value)
            .headers(headers);
        self.producer
            .send_result(record)
            .map_err(|(error, _)| classify(error))
    }

    /// Produces `envelopes` and waits for each one's acknowledgement.
    async fn forward(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        let enqueued: Vec<Result<DeliveryFuture, HandleError>> = envelopes
            .iter()
            .map(|envelope| self.enqueue(envelope))
            .collect();
        join_all(enqueued.into_iter().map(|enqueued| async move {
            match enqueued?.await {
                Ok(Ok(_delivery)) => Ok(()),
                Ok(Err((error, _message))) => Err(classify(error)),
                Err(_canceled) => Err(HandleError::Unavailable(anyhow::anyhow!(
                    "the kafka producer stopped before the broker answered"
                ))),
            }
        }))
        .await
    }
}

/// A record the broker refuses for itself is the message's fault; anything else (no broker,
/// a timeout, a full local queue) is an outage.
fn classify(error: KafkaError) -> HandleError {
    let own_fault = matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::MessageSizeTooLarge
                | RDKafkaErrorCode::InvalidMessageSize
                | RDKafkaErrorCode::InvalidMessage
                | RDKafkaErrorCode::InvalidRecord
                | RDKafkaErrorCode::MessageBatchTooLarge
        )
    );
    let error = anyhow::Error::new(error).context("produce the event onto the stream");
    if own_fault {
        HandleError::Rejected(error)
    } else {
        HandleError::Unavailable(error)
    }
}

#[async_trait]
impl Handler for KafkaForwarder {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        self.forward(&[envelope]).await.pop().unwrap_or_else(|| {
            Err(HandleError::Unavailable(anyhow::anyhow!(
                "nothing produced"
            )))
        })
    }

    fn handles_batches(&self) -> bool {
        true
    }

    async fn handle_batch(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        self.forward(envelopes).await
    }
}
