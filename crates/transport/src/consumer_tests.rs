//! The consumer loop's pace, on a paused clock: how long it waits while its transport is down,
//! how it starts over once the transport is back, and that a shutdown does not wait out a
//! backoff. The queue is a fake that notes the (virtual) time of every call.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use contracts::{Envelope, Queue};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::{
    Delivery, HandleError, Handler, QueueConsumer, RetryPolicy, TransportError, run_consumer,
};

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    initial_delay: Duration::from_millis(100),
    max_delay: Duration::from_millis(800),
};

/// How one `receive` goes.
#[derive(Clone, Copy, Debug)]
enum Receive {
    Down,
    Empty,
}

/// A queue that answers `receive` from a script (then finds nothing), and notes when each
/// `receive` came and how long each wait for messages was.
struct ScriptedQueue {
    script: Mutex<VecDeque<Receive>>,
    receives: Mutex<Vec<Instant>>,
    waits: Mutex<Vec<Duration>>,
}

impl ScriptedQueue {
    fn new(script: impl IntoIterator<Item = Receive>) -> Self {
        Self {
            script: Mutex::new(script.into_iter().collect()),
            receives: Mutex::new(Vec::new()),
            waits: Mutex::new(Vec::new()),
        }
    }

    /// The time between one `receive` and the next.
    fn gaps(&self) -> Vec<Duration> {
        let receives = self.receives.lock().expect("receives");
        receives.windows(2).map(|pair| pair[1] - pair[0]).collect()
    }

    fn waits(&self) -> Vec<Duration> {
        self.waits.lock().expect("waits").clone()
    }
}

#[async_trait]
impl QueueConsumer for ScriptedQueue {
    fn queue(&self) -> Queue {
        Queue::Order
    }

    async fn receive(&self, _max: usize) -> Result<Vec<Delivery>, TransportError> {
        self.receives.lock().expect("receives").push(Instant::now());
        let next = self.script.lock().expect("script").pop_front();
        match next.unwrap_or(Receive::Empty) {
            Receive::Down => Err(TransportError(anyhow::anyhow!("queue unreachable"))),
            Receive::Empty => Ok(Vec::new()),
        }
    }

    async fn wait_for_messages(&self, timeout: Duration) {
        // Nothing is ever published: each wait lasts its whole timeout.
        self.waits.lock().expect("waits").push(timeout);
        tokio::time::sleep(timeout).await;
    }

    async fn ack(&self, _delivery: &Delivery) -> Result<(), TransportError> {
        unreachable!("the script delivers nothing")
    }

    async fn retry(
        &self,
        _delivery: &Delivery,
        _delay: Duration,
        _error: &str,
        _charge_attempt: bool,
    ) -> Result<(), TransportError> {
        unreachable!("the script delivers nothing")
    }

    async fn dead_letter(&self, _delivery: &Delivery, _error: &str) -> Result<(), TransportError> {
        unreachable!("the script delivers nothing")
    }
}

struct NeverCalled;

#[async_trait]
impl Handler for NeverCalled {
    async fn handle(&self, _envelope: &Envelope) -> Result<(), HandleError> {
        unreachable!("the script delivers nothing")
    }
}

/// Runs the consumer loop on `queue` for `duration` of virtual time, then stops it.
async fn consume_for(queue: &Arc<ScriptedQueue>, policy: RetryPolicy, duration: Duration) {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_consumer(
        queue.clone(),
        Arc::new(NeverCalled),
        policy,
        crate::OutageReporter::unheard(),
        shutdown.clone(),
    ));
    tokio::time::sleep(duration).await;
    shutdown.cancel();
    task.await.expect("the consumer loop ends");
}

/// The backoff before retry number `retry`, before jitter: doubling up to the cap.
fn base_delay(retry: u32) -> Duration {
    (POLICY.initial_delay * 2u32.pow(retry - 1)).min(POLICY.max_delay)
}

fn assert_backoff(gap: Duration, retry: u32) {
    let base = base_delay(retry);
    assert!(
        base <= gap && gap <= base * 2,
        "retry {retry} came after {gap:?}; the policy says {base:?}, plus up to as much jitter"
    );
}

#[tokio::test(start_paused = true)]
async fn while_its_transport_is_down_a_consumer_waits_longer_each_time_up_to_the_cap() {
    let queue = Arc::new(ScriptedQueue::new([Receive::Down; 6]));

    consume_for(&queue, POLICY, Duration::from_secs(10)).await;

    let gaps = queue.gaps();
    for (retry, gap) in (1u32..=6).zip(&gaps) {
        assert_backoff(*gap, retry);
    }
    assert!(gaps.len() > 6, "it tries again once the transport is back");
}

#[tokio::test(start_paused = true)]
async fn once_its_transport_is_back_a_consumer_s_backoff_starts_over() {
    let script = [
        Receive::Down,
        Receive::Down,
        Receive::Down,
        Receive::Empty,
        Receive::Down,
    ];
    let queue = Arc::new(ScriptedQueue::new(script));

    consume_for(&queue, POLICY, Duration::from_secs(10)).await;

    let gaps = queue.gaps();
    assert_backoff(gaps[2], 3);
    assert_eq!(gaps[3], Duration::from_millis(500), "an idle wait");
    assert_backoff(gaps[4], 1);
}

#[tokio::test(start_paused = true)]
async fn an_idle_consumer_waits_for_messages_half_a_second_at_a_time() {
    let queue = Arc::new(ScriptedQueue::new([]));

    consume_for(&queue, POLICY, Duration::from_millis(2_250)).await;

    assert_eq!(queue.waits(), vec![Duration::from_millis(500); 5]);
    assert_eq!(queue.gaps(), vec![Duration::from_millis(500); 4]);
}

#[tokio::test(start_paused = true)]
async fn a_consumer_stopped_while_backing_off_stops_at_once() {
    let queue = Arc::new(ScriptedQueue::new([Receive::Down; 2]));
    let slow = RetryPolicy {
        initial_delay: Duration::from_secs(60),
        max_delay: Duration::from_secs(60),
        ..POLICY
    };
    let started = Instant::now();

    consume_for(&queue, slow, Duration::from_secs(1)).await;

    assert_eq!(started.elapsed(), Duration::from_secs(1));
    assert_eq!(
        queue.gaps(),
        Vec::<Duration>::new(),
        "received once, then stopped"
    );
}
