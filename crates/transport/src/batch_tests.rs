//! The consumer loop with a handler that takes batches: each message is settled by its own
//! outcome, and a batch that panics is handled again one message at a time, so only the
//! message at fault is charged. A handler that gathers its messages is given a batch short of
//! full only after its gathering time, and a full one at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use contracts::Envelope;
use tokio_util::sync::CancellationToken;

use crate::faults::fake_queue::{FakeQueue, message};
use crate::{HandleError, Handler, Intake, Outages, RetryPolicy, run_consumer};

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 2,
    initial_delay: Duration::from_millis(100),
    max_delay: Duration::from_millis(100),
};

/// Rejects the message whose order id is `bad`; notes the size of every batch it was given.
struct BatchHandler {
    bad: u128,
    panic_in_batches: bool,
    batches: Mutex<Vec<usize>>,
}

impl BatchHandler {
    fn new(bad: u128, panic_in_batches: bool) -> Arc<Self> {
        Arc::new(Self {
            bad,
            panic_in_batches,
            batches: Mutex::new(Vec::new()),
        })
    }

    fn batches(&self) -> Vec<usize> {
        self.batches.lock().expect("batches").clone()
    }
}

#[async_trait]
impl Handler for BatchHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        if envelope.correlation_id.as_u128() == self.bad {
            return Err(HandleError::Rejected(anyhow::anyhow!("bad message")));
        }
        Ok(())
    }

    fn handles_batches(&self) -> bool {
        true
    }

    async fn handle_batch(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        self.batches.lock().expect("batches").push(envelopes.len());
        assert!(!self.panic_in_batches, "the batch path broke");
        let mut outcomes = Vec::new();
        for envelope in envelopes {
            outcomes.push(self.handle(envelope).await);
        }
        outcomes
    }
}

async fn consume_until_settled(queue: &Arc<FakeQueue>, handler: Arc<BatchHandler>) {
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn(run_consumer(
        queue.clone(),
        handler,
        POLICY,
        Outages::new().reporter(),
        shutdown.clone(),
    ));
    while !queue.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    consumer.await.expect("consumer task");
}

#[tokio::test(start_paused = true)]
async fn each_message_of_a_batch_is_settled_by_its_own_outcome() {
    let queue = Arc::new(FakeQueue::with_messages(5));
    let handler = BatchHandler::new(2, false);
    consume_until_settled(&queue, handler.clone()).await;

    let state = queue.state();
    assert_eq!(handler.batches()[0], 5, "the first receive is one batch");
    assert_eq!(state.acked.len(), 4, "every good message is acknowledged");
    assert_eq!(
        state.dead_lettered.len(),
        1,
        "the bad one ends in a dead letter"
    );
    assert!(
        state
            .retried
            .iter()
            .all(|(_, _, error, charged)| *charged && error.contains("bad")),
        "only the bad message is retried: {:?}",
        state.retried
    );
    assert_eq!(state.retried.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_panics_is_handled_again_one_message_at_a_time() {
    let queue = Arc::new(FakeQueue::with_messages(4));
    let handler = BatchHandler::new(7, true);
    consume_until_settled(&queue, handler.clone()).await;

    let state = queue.state();
    assert_eq!(handler.batches(), [4], "one batch was tried");
    assert_eq!(
        state.acked.len(),
        4,
        "then each message was handled on its own"
    );
    assert!(
        state.retried.is_empty(),
        "no message was charged for the panic"
    );
    assert!(state.dead_lettered.is_empty());
}

/// Takes batches of up to four, gathered for a second; notes when each batch came and its size.
#[derive(Default)]
struct GatheringHandler {
    batches: Mutex<Vec<(Duration, usize)>>,
    started: Mutex<Option<tokio::time::Instant>>,
}

impl GatheringHandler {
    const GATHER: Duration = Duration::from_secs(1);

    fn batches(&self) -> Vec<(Duration, usize)> {
        self.batches.lock().expect("batches").clone()
    }
}

#[async_trait]
impl Handler for GatheringHandler {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        self.handle_batch(&[envelope]).await.remove(0)
    }

    fn intake(&self) -> Intake {
        Intake {
            batch: 4,
            gather: Self::GATHER,
        }
    }

    fn handles_batches(&self) -> bool {
        true
    }

    async fn handle_batch(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        let now = tokio::time::Instant::now();
        let started = *self.started.lock().expect("started").get_or_insert(now);
        self.batches
            .lock()
            .expect("batches")
            .push((now - started, envelopes.len()));
        envelopes.iter().map(|_| Ok(())).collect()
    }
}

#[tokio::test(start_paused = true)]
async fn a_short_batch_is_followed_by_the_gathering_time_and_a_full_one_is_not() {
    // Six waiting: a full batch of four, then at once the two left (a short batch).
    let queue = Arc::new(FakeQueue::with_messages(6));
    let handler = Arc::new(GatheringHandler::default());
    let shutdown = CancellationToken::new();
    let consumer = tokio::spawn(run_consumer(
        queue.clone(),
        handler.clone(),
        POLICY,
        Outages::new().reporter(),
        shutdown.clone(),
    ));
    // Three more come while the consumer gathers after the short batch.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for index in 6..9 {
        queue.put(message(index));
    }
    while !queue.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    shutdown.cancel();
    consumer.await.expect("consumer task");

    let batches = handler.batches();
    let sizes: Vec<usize> = batches.iter().map(|(_, size)| *size).collect();
    assert_eq!(sizes, [4, 2, 3], "batches as received: {batches:?}");
    assert!(
        batches[1].0 < Duration::from_millis(10),
        "after a full batch the next is received at once: {batches:?}"
    );
    assert!(
        batches[2].0 >= batches[1].0 + GatheringHandler::GATHER,
        "after a short batch the consumer gathers for {:?} first: {batches:?}",
        GatheringHandler::GATHER
    );
    assert_eq!(
        queue.state().acked.len(),
        9,
        "every message is acknowledged"
    );
}
