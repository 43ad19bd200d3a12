use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use contracts::Envelope;
use futures_util::FutureExt as _;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, error, info_span, warn};

use crate::{Delivery, OutageReporter, QueueConsumer, RetryPolicy};

/// Why a handler did not handle a message; decides between retry and dead letter.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    /// The message's own fault (cannot be decoded, rejected by the rules, a bug): it uses up
    /// an attempt, and is dead-lettered when none are left.
    #[error("message rejected")]
    Rejected(#[source] anyhow::Error),
    /// A dependency is down or busy: not the message's fault, retried without end.
    #[error("dependency unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<store::StoreError> for HandleError {
    /// An outage is waited out; anything else a handler did not expect (a conflict it does not
    /// handle itself, a broken row) is treated as the message's fault, so it ends in a dead
    /// letter instead of being retried forever.
    fn from(error: store::StoreError) -> Self {
        match error {
            store::StoreError::Unavailable(_) => Self::Unavailable(anyhow::Error::new(error)),
            store::StoreError::Conflict => Self::Rejected(anyhow::Error::new(error)),
            store::StoreError::Unexpected(source) => Self::Rejected(source),
        }
    }
}

impl From<contracts::DecodeError> for HandleError {
    fn from(error: contracts::DecodeError) -> Self {
        Self::Rejected(anyhow::Error::new(error))
    }
}

/// Handles the messages of one queue. Must be idempotent: a message may arrive twice.
#[async_trait]
pub trait Handler: Send + Sync {
    /// # Errors
    /// [`HandleError`], classified as above.
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError>;

    /// Whether [`Handler::handle_batch`] does better than one [`Handler::handle`] after another.
    fn handles_batches(&self) -> bool {
        false
    }

    /// How its consumers take messages: as many as are due, up to a batch, at once (the
    /// default), or gathered for a while first.
    fn intake(&self) -> Intake {
        Intake::PROMPT
    }

    /// Handles several messages, one outcome each, in order: a handler that can store many in
    /// one transaction does (fewer commits and round trips per message), and falls back to one
    /// at a time when any of them fails, so that one bad message never fails its batch-mates.
    async fn handle_batch(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        handle_each(self, envelopes).await
    }
}

/// Handles `envelopes` one [`Handler::handle`] after another: the default batch, and the
/// fallback of a handler whose batch failed together.
pub async fn handle_each<H: Handler + ?Sized>(
    handler: &H,
    envelopes: &[&Envelope],
) -> Vec<Result<(), HandleError>> {
    let mut outcomes = Vec::with_capacity(envelopes.len());
    for envelope in envelopes {
        outcomes.push(handler.handle(envelope).await);
    }
    outcomes
}

/// The outcomes of a batch its handler first tried in one transaction (`together`): every
/// message handled when that succeeded; otherwise each handled on its own ([`handle_each`]),
/// so that only the one at fault is charged.
pub async fn each_unless_together<H: Handler + ?Sized>(
    handler: &H,
    envelopes: &[&Envelope],
    together: Result<(), HandleError>,
) -> Vec<Result<(), HandleError>> {
    match together {
        Ok(()) => envelopes.iter().map(|_| Ok(())).collect(),
        Err(error) => {
            debug!(error = %error, "batch not handled together; one message at a time");
            handle_each(handler, envelopes).await
        }
    }
}

const IDLE_WAIT: Duration = Duration::from_millis(500);

/// How a consumer takes its handler's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Intake {
    /// At most this many messages per receive.
    pub batch: usize,
    /// After a receive short of a batch, how long to let messages gather before the next: a
    /// handler off the saga's path (the analytics stream) trades that much delay for fewer,
    /// larger transactions. Zero takes each message as soon as it is due.
    pub gather: Duration,
}

impl Intake {
    /// What the saga's handlers take: up to 16 at once, no waiting.
    pub const PROMPT: Self = Self {
        batch: 16,
        gather: Duration::ZERO,
    };
}

/// Consumes one queue until `shutdown`: handle, then ack, retry or dead-letter. It tells
/// `outages` when it cannot receive, and when it can again.
///
/// A message being handled when shutdown comes is finished first.
pub async fn run_consumer(
    consumer: Arc<dyn QueueConsumer>,
    handler: Arc<dyn Handler>,
    policy: RetryPolicy,
    outages: OutageReporter,
    shutdown: CancellationToken,
) {
    let queue = consumer.queue().name();
    let intake = handler.intake();
    let mut receive_failures = 0;
    while !shutdown.is_cancelled() {
        let attempt = tokio::time::Instant::now();
        let deliveries = match consumer.receive(intake.batch).await {
            Ok(deliveries) => {
                outages.up();
                receive_failures = 0;
                deliveries
            }
            Err(error) => {
                // The transport is down: back off like any outage, and never give up.
                outages.down(attempt);
                receive_failures += 1;
                let delay = policy.outage_delay(receive_failures);
                warn!(
                    queue,
                    error = format!("{:#}", anyhow::Error::new(error)),
                    delay_ms = delay.as_millis(),
                    "cannot receive; retrying"
                );
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        if deliveries.is_empty() {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = consumer.wait_for_messages(IDLE_WAIT) => continue,
            }
        }
        let short = deliveries.len() < intake.batch;
        if deliveries.len() > 1 && handler.handles_batches() {
            handle_batch(consumer.as_ref(), handler.as_ref(), &policy, &deliveries).await;
        } else {
            handle_one_by_one(consumer.as_ref(), handler.as_ref(), &policy, deliveries).await;
        }
        if short && !intake.gather.is_zero() {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(intake.gather) => {}
            }
        }
    }
}

/// Handles and settles `deliveries` one after another, each in its own span.
async fn handle_one_by_one(
    consumer: &dyn QueueConsumer,
    handler: &dyn Handler,
    policy: &RetryPolicy,
    deliveries: Vec<Delivery>,
) {
    let queue = consumer.queue().name();
    for delivery in deliveries {
        let span = message_span(queue, &delivery);
        let envelope = in_handling_trace(&delivery.envelope, &span);
        let started = std::time::Instant::now();
        let outcome = handle_one(handler, &envelope)
            .instrument(span.clone())
            .await;
        metrics::histogram!("orderflow_message_handle_seconds", "queue" => queue)
            .record(started.elapsed());
        settle(consumer, policy, &delivery, outcome)
            .instrument(span)
            .await;
    }
}

/// The span a message is handled and settled in: a child of the span that sent it (its
/// envelope's `traceparent`), so the order's trace goes on; a new trace when it has none.
pub(crate) fn message_span(queue: &str, delivery: &Delivery) -> tracing::Span {
    let span = info_span!(
        "handle_message",
        queue,
        message.id = %delivery.envelope.message_id,
        message.r#type = %delivery.envelope.message_type,
        order.id = %delivery.envelope.correlation_id,
        attempt = delivery.attempts + 1,
    );
    trace_context::continue_trace(&span, delivery.envelope.traceparent.as_deref());
    span
}

/// The envelope as its handler sees it: its `traceparent` is the handling span's, so the
/// messages the handler sends (`EnvelopeBuilder::caused_by` copies it) are children of the
/// handling, not siblings of it. Unchanged when the span has no trace context (no
/// OpenTelemetry layer, or the span is filtered out).
pub(crate) fn in_handling_trace<'a>(
    envelope: &'a Envelope,
    span: &tracing::Span,
) -> Cow<'a, Envelope> {
    match trace_context::traceparent_of_span(span) {
        Some(traceparent) if envelope.traceparent.as_ref() != Some(&traceparent) => {
            Cow::Owned(Envelope {
                traceparent: Some(traceparent),
                ..envelope.clone()
            })
        }
        _ => Cow::Borrowed(envelope),
    }
}

/// A panicking handler is a bug: the message is rejected like any other failure, and the
/// consumer goes on.
fn panic_rejection(panic: &(dyn std::any::Any + Send)) -> HandleError {
    let reason = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    HandleError::Rejected(anyhow::anyhow!("handler panicked: {reason}"))
}

async fn handle_one(handler: &dyn Handler, envelope: &Envelope) -> Result<(), HandleError> {
    AssertUnwindSafe(handler.handle(envelope))
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| Err(panic_rejection(panic.as_ref())))
}

/// Handles `deliveries` together, then settles each by its own outcome. If the batch panics,
/// each message is handled again on its own, so only the one at fault is charged.
async fn handle_batch(
    consumer: &dyn QueueConsumer,
    handler: &dyn Handler,
    policy: &RetryPolicy,
    deliveries: &[Delivery],
) {
    let queue = consumer.queue().name();
    let started = std::time::Instant::now();
    let envelopes: Vec<&Envelope> = deliveries.iter().map(|d| &d.envelope).collect();
    let batch = AssertUnwindSafe(handler.handle_batch(&envelopes))
        .catch_unwind()
        .instrument(info_span!(
            "handle_batch",
            queue,
            messages = deliveries.len()
        ))
        .await;
    let outcomes = match batch {
        Ok(outcomes) if outcomes.len() == deliveries.len() => outcomes,
        _ => {
            let mut outcomes = Vec::with_capacity(deliveries.len());
            for delivery in deliveries {
                outcomes.push(
                    handle_one(handler, &delivery.envelope)
                        .instrument(message_span(queue, delivery))
                        .await,
                );
            }
            outcomes
        }
    };
    let each = started.elapsed() / u32::try_from(deliveries.len()).unwrap_or(u32::MAX);
    for _ in deliveries {
        metrics::histogram!("orderflow_message_handle_seconds", "queue" => queue).record(each);
    }
    if outcomes.iter().all(Result::is_ok) {
        // The common case: every message handled, all settled at once.
        for delivery in deliveries {
            count_handled(queue, delivery);
        }
        report_unsettled(consumer.ack_all(deliveries).await);
        return;
    }
    for (delivery, outcome) in deliveries.iter().zip(outcomes) {
        settle(consumer, policy, delivery, outcome)
            .instrument(message_span(queue, delivery))
            .await;
    }
}

async fn settle(
    consumer: &dyn QueueConsumer,
    policy: &RetryPolicy,
    delivery: &Delivery,
    outcome: Result<(), HandleError>,
) {
    let queue = consumer.queue().name();
    let message_type = delivery.envelope.message_type.clone();
    let settled = match outcome {
        Ok(()) => {
            debug!("handled");
            count_handled(queue, delivery);
            consumer.ack(delivery).await
        }
        Err(HandleError::Rejected(cause)) => {
            let attempts = delivery.attempts + 1;
            let error = format!("{cause:#}");
            if policy.exhausted(attempts) {
                error!(
                    error,
                    attempts, "message failed for the last time; dead-lettering it"
                );
                metrics::counter!("orderflow_dead_letters_total", "queue" => queue, "type" => message_type)
                    .increment(1);
                consumer.dead_letter(delivery, &error).await
            } else {
                let delay = policy.delay(attempts);
                warn!(
                    error,
                    attempts,
                    delay_ms = delay.as_millis(),
                    "message failed; retrying"
                );
                metrics::counter!("orderflow_message_retries_total", "queue" => queue, "type" => message_type)
                    .increment(1);
                consumer.retry(delivery, delay, &error, true).await
            }
        }
        Err(HandleError::Unavailable(cause)) => {
            let delay = policy.outage_delay(delivery.redeliveries + 1);
            let error = format!("{cause:#}");
            warn!(
                error,
                delay_ms = delay.as_millis(),
                "dependency unavailable; retrying without charging an attempt"
            );
            metrics::counter!("orderflow_message_deferrals_total", "queue" => queue).increment(1);
            consumer.retry(delivery, delay, &error, false).await
        }
    };
    report_unsettled(settled);
}

/// Counts a message its handler handled.
fn count_handled(queue: &'static str, delivery: &Delivery) {
    metrics::counter!("orderflow_messages_handled_total", "queue" => queue, "type" => delivery.envelope.message_type.clone())
        .increment(1);
}

/// Warns of a settlement that failed: the lease expires (or the channel's deliveries go back)
/// and the messages come again; the inbox absorbs the repeats.
fn report_unsettled(settled: Result<(), crate::TransportError>) {
    if let Err(error) = settled {
        warn!(
            error = format!("{:#}", anyhow::Error::new(error)),
            "cannot settle delivery"
        );
    }
}
