//! Moves the analytics queue onto the topic: the handler of the queue's consumer loop.
//!
//! Each event is produced with an idempotent producer and the handler answers only when the
//! broker acknowledged it (`acks=all`), so the loop acks the queue's delivery after the event
//! is on the topic, never before. A broker that does not answer is an outage
//! (`HandleError::Unavailable`: retried without end, never dead-lettered), so during it the
//! queue grows and nothing is lost; a record the broker refuses for itself (too large) is the
//! message's fault. A batch is produced at once and its acknowledgements awaited together.
//!
//! An idempotent producer can end in a fatal state (librdkafka stops it for good when the
//! broker fences its epoch, as tansu does after records timed out during an outage): the
//! forwarder then makes a new producer, with a new producer id, and the records are produced
//! again through it (a record the old one delivered may then be on the topic twice; the
//! analytics service's inbox absorbs it).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context as _;
use async_trait::async_trait;
use contracts::Envelope;
use futures_util::future::join_all;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use tracing::warn;
use transport::{HandleError, Handler};

use crate::KafkaSettings;
use crate::record;

/// How long a record may wait for the broker's acknowledgement before it counts as not
/// delivered (and is produced again after the outage backoff). Short, so that a stop of the
/// forwarder during an outage is not held up for long.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The analytics queue's handler when the stream runs on Kafka.
pub struct KafkaForwarder {
    settings: KafkaSettings,
    /// Replaced when it ends in a fatal state.
    producer: RwLock<Arc<FutureProducer>>,
}

impl std::fmt::Debug for KafkaForwarder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaForwarder")
            .field("topic", &self.settings.topic)
            .finish_non_exhaustive()
    }
}

/// An idempotent producer that waits for every replica's acknowledgement.
fn producer(settings: &KafkaSettings) -> anyhow::Result<FutureProducer> {
    settings
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set(
            "message.timeout.ms",
            DELIVERY_TIMEOUT.as_millis().to_string(),
        )
        .create()
        .context("create the kafka producer")
}

impl KafkaForwarder {
    /// A producer for `settings.topic`; it connects lazily.
    ///
    /// # Errors
    /// When the configuration is refused (a malformed broker list).
    pub fn new(settings: &KafkaSettings) -> anyhow::Result<Self> {
        Ok(Self {
            producer: RwLock::new(Arc::new(producer(settings)?)),
            settings: settings.clone(),
        })
    }

    fn current(&self) -> Arc<FutureProducer> {
        self.producer
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Replaces `used` by a new producer if it is in a fatal state, or the broker fenced its
    /// producer id (and no one replaced it yet).
    fn renew_if_stuck(&self, used: &Arc<FutureProducer>, fenced: bool) {
        let Some((code, reason)) = used.client().fatal_error().or_else(|| {
            fenced.then(|| {
                (
                    RDKafkaErrorCode::ProducerFenced,
                    "the broker fenced the producer's id".to_owned(),
                )
            })
        }) else {
            return;
        };
        let mut current = self
            .producer
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !Arc::ptr_eq(&current, used) {
            return;
        }
        match producer(&self.settings) {
            Ok(fresh) => {
                warn!(%code, reason, "the kafka producer stopped for good; starting a new one");
                *current = Arc::new(fresh);
            }
            Err(error) => warn!(
                error = format!("{error:#}"),
                "cannot renew the kafka producer"
            ),
        }
    }

    /// Enqueues one record; its acknowledgement, or why it was not enqueued.
    fn enqueue(
        &self,
        producer: &FutureProducer,
        envelope: &Envelope,
    ) -> Result<DeliveryFuture, HandleError> {
        let (key, value, headers) = record::encode(envelope)
            .map_err(|error| HandleError::Rejected(anyhow::Error::new(error)))?;
        let record = FutureRecord::to(&self.settings.topic)
            .key(&key)
            .payload(&value)
            .headers(headers);
        producer
            .send_result(record)
            .map_err(|(error, _)| classify(error))
    }

    /// Produces `envelopes` and waits for each one's acknowledgement.
    async fn forward(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        let producer = self.current();
        let enqueued: Vec<Result<DeliveryFuture, HandleError>> = envelopes
            .iter()
            .map(|envelope| self.enqueue(&producer, envelope))
            .collect();
        let fenced = std::sync::atomic::AtomicBool::new(false);
        let fenced_ref = &fenced;
        let outcomes = join_all(enqueued.into_iter().map(|enqueued| async move {
            match enqueued?.await {
                Ok(Ok(_delivery)) => Ok(()),
                Ok(Err((error, _message))) => {
                    if is_fencing(&error) {
                        fenced_ref.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    Err(classify(error))
                }
                Err(_canceled) => Err(HandleError::Unavailable(anyhow::anyhow!(
                    "the kafka producer stopped before the broker answered"
                ))),
            }
        }))
        .await;
        if outcomes.iter().any(Result::is_err) {
            self.renew_if_stuck(&producer, fenced.into_inner());
        }
        outcomes
    }
}

/// Errors after which an idempotent producer's id is no good any more.
fn is_fencing(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::UnknownProducerId
                | RDKafkaErrorCode::OutOfOrderSequenceNumber
                | RDKafkaErrorCode::InvalidProducerIdMapping
                | RDKafkaErrorCode::Fatal
        )
    )
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
