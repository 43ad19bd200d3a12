//! Retries, charged and not, and the consumer loop's classification of failures.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contracts::{Envelope, Queue};
use tokio_util::sync::CancellationToken;
use transport::{HandleError, Handler, run_consumer};

use super::{
    PATIENCE, QUIET, SLACK, TransportUnderTest, assert_stays_empty, publish, receive_one,
    retry_policy, stock_reserved,
};

/// A retry that charges an attempt comes back no sooner than its delay, with one more
/// attempt counted.
pub async fn a_charged_retry_comes_back_after_its_delay_with_one_more_attempt(
    transport: Arc<dyn TransportUnderTest>,
) {
    let envelope = stock_reserved();
    publish(transport.as_ref(), std::slice::from_ref(&envelope)).await;
    let consumer = transport.consumer(Queue::Order);
    let delivery = receive_one(consumer.as_ref()).await;

    let delay = Duration::from_millis(300);
    let retried_at = Instant::now();
    consumer
        .retry(&delivery, delay, "handler failed", true)
        .await
        .expect("retry");
    let again = receive_one(consumer.as_ref()).await;
    let waited = retried_at.elapsed();

    assert!(
        waited + SLACK >= delay,
        "the retry came back after {waited:?}, before its delay of {delay:?}"
    );
    assert_eq!(again.envelope, envelope);
    assert_eq!(again.attempts, 1);
    assert!(again.redeliveries >= 1, "{again:?}");
    consumer.ack(&again).await.expect("ack");
    assert_stays_empty(consumer.as_ref()).await;
}

/// A retry for an outage (not the message's fault) keeps the attempt count.
pub async fn an_uncharged_retry_keeps_the_attempt_count(transport: Arc<dyn TransportUnderTest>) {
    publish(transport.as_ref(), &[stock_reserved()]).await;
    let consumer = transport.consumer(Queue::Order);
    let delivery = receive_one(consumer.as_ref()).await;
    let short = Duration::from_millis(50);

    consumer
        .retry(&delivery, short, "rejected", true)
        .await
        .expect("retry");
    let charged = receive_one(consumer.as_ref()).await;
    assert_eq!(charged.attempts, 1);
    consumer
        .retry(&charged, short, "database unavailable", false)
        .await
        .expect("retry");
    let uncharged = receive_one(consumer.as_ref()).await;

    assert_eq!(uncharged.attempts, 1, "an outage is not charged");
    assert!(
        uncharged.redeliveries > charged.redeliveries,
        "each retry is a redelivery: {charged:?} then {uncharged:?}"
    );
    consumer.ack(&uncharged).await.expect("ack");
}

/// Records when it is called, and answers with the outcomes it is given, then `Ok` (or
/// always rejects).
struct ScriptedHandler {
    calls: Mutex<Vec<Instant>>,
    script: Mutex<Vec<HandleError>>,
    always_reject: bool,
}

impl ScriptedHandler {
    fn new(script: Vec<HandleError>, always_reject: bool) -> Self {
        Self {
            calls: Mutex::new(Vec::new()),
            script: Mutex::new(script),
            always_reject,
        }
    }

    fn calls(&self) -> Vec<Instant> {
        self.calls.lock().expect("calls").clone()
    }
}

#[async_trait]
impl Handler for ScriptedHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        self.calls.lock().expect("calls").push(Instant::now());
        if self.always_reject {
            return Err(HandleError::Rejected(anyhow::anyhow!(
                "always rejects {}",
                envelope.message_type
            )));
        }
        let mut script = self.script.lock().expect("script");
        if script.is_empty() {
            Ok(())
        } else {
            Err(script.remove(0))
        }
    }
}

/// The consumer loop running on one queue until stopped.
pub(super) struct RunningConsumer {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RunningConsumer {
    pub(super) fn start(
        transport: &dyn TransportUnderTest,
        queue: Queue,
        handler: Arc<dyn Handler>,
    ) -> Self {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_consumer(
            transport.consumer(queue),
            handler,
            retry_policy(),
            transport::OutageReporter::unheard(),
            shutdown.clone(),
        ));
        Self { shutdown, task }
    }

    pub(super) async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("the consumer loop ends");
    }
}

/// The consumer loop dead-letters a message its handler always rejects after exactly
/// `max_attempts` attempts, waiting longer before each retry.
pub async fn a_rejected_message_is_dead_lettered_after_max_attempts_with_growing_delays(
    transport: Arc<dyn TransportUnderTest>,
) {
    let envelope = stock_reserved();
    publish(transport.as_ref(), std::slice::from_ref(&envelope)).await;
    let handler = Arc::new(ScriptedHandler::new(Vec::new(), true));
    let dead_letters = transport.dead_letters();
    let running = RunningConsumer::start(transport.as_ref(), Queue::Order, handler.clone());
    let deadline = Instant::now() + PATIENCE;
    while dead_letters.list().await.expect("list").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    running.stop().await;

    let parked = dead_letters.list().await.expect("list");
    assert_eq!(parked.len(), 1, "the message is parked");
    let policy = retry_policy();
    assert_eq!(parked[0].envelope, envelope);
    assert_eq!(parked[0].attempts, policy.max_attempts);
    assert!(
        parked[0].error.contains("always rejects"),
        "{}",
        parked[0].error
    );
    let calls = handler.calls();
    assert_eq!(
        calls.len(),
        usize::try_from(policy.max_attempts).unwrap_or(usize::MAX),
        "handled exactly max_attempts times"
    );
    for (retry, pair) in (1u32..).zip(calls.windows(2)) {
        let waited = pair[1] - pair[0];
        let minimum = policy.initial_delay * 2u32.pow(retry - 1);
        assert!(
            waited + SLACK >= minimum,
            "retry {retry} came after {waited:?}, before its backoff of at least {minimum:?}"
        );
    }
}

/// An outage (the handler's dependency is unavailable) is retried with backoff without
/// charging attempts: more outages than `max_attempts` never dead-letter the message.
pub async fn an_unavailable_dependency_is_retried_without_charging_attempts(
    transport: Arc<dyn TransportUnderTest>,
) {
    let policy = retry_policy();
    let outages = usize::try_from(policy.max_attempts).unwrap_or(usize::MAX) + 1;
    let script = (0..outages)
        .map(|_| HandleError::Unavailable(anyhow::anyhow!("database unavailable")))
        .collect();
    publish(transport.as_ref(), &[stock_reserved()]).await;
    let handler = Arc::new(ScriptedHandler::new(script, false));
    let calls_wanted = outages + 1;
    let running = RunningConsumer::start(transport.as_ref(), Queue::Order, handler.clone());
    let deadline = Instant::now() + PATIENCE;
    while handler.calls().len() < calls_wanted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Long enough for a wrongly repeated delivery to show.
    tokio::time::sleep(QUIET).await;
    running.stop().await;

    assert_eq!(
        handler.calls().len(),
        calls_wanted,
        "handled once after each outage, then done"
    );
    assert!(
        transport
            .dead_letters()
            .list()
            .await
            .expect("list")
            .is_empty(),
        "an outage never dead-letters"
    );
    assert_stays_empty(transport.consumer(Queue::Order).as_ref()).await;
}
