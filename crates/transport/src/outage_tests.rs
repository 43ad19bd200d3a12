//! How soon work resumes after an outage, on a paused clock: a message that failed because a
//! dependency was down, and a consumer whose transport was down, try again within two seconds
//! however long the policy lets a message that fails by its own fault wait.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use contracts::{Envelope, Queue};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{
    Delivery, HandleError, Handler, QueueConsumer, RetryPolicy, TransportError, run_consumer,
};

/// The production policy: 200 ms, doubling up to 30 s for a message's own faults.
const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    initial_delay: Duration::from_millis(200),
    max_delay: Duration::from_secs(30),
};

/// A queue that is down for its first `down` receives, then hands out `deliveries` once, and
/// notes when each receive came and what each retry asked for.
struct OutageQueue {
    down: Mutex<usize>,
    deliveries: Mutex<Vec<Delivery>>,
    receives: Mutex<Vec<Instant>>,
    retries: Mutex<Vec<(Uuid, Duration, bool)>>,
}

impl OutageQueue {
    fn new(down: usize, deliveries: Vec<Delivery>) -> Self {
        Self {
            down: Mutex::new(down),
            deliveries: Mutex::new(deliveries),
            receives: Mutex::new(Vec::new()),
            retries: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl QueueConsumer for OutageQueue {
    fn queue(&self) -> Queue {
        Queue::Inventory
    }

    async fn receive(&self, _max: usize) -> Result<Vec<Delivery>, TransportError> {
        self.receives.lock().expect("receives").push(Instant::now());
        let mut down = self.down.lock().expect("down");
        if *down > 0 {
            *down -= 1;
            return Err(TransportError(anyhow::anyhow!("broker unreachable")));
        }
        Ok(std::mem::take(
            &mut *self.deliveries.lock().expect("deliveries"),
        ))
    }

    async fn wait_for_messages(&self, timeout: Duration) {
        tokio::time::sleep(timeout).await;
    }

    async fn ack(&self, _delivery: &Delivery) -> Result<(), TransportError> {
        unreachable!("every message fails")
    }

    async fn retry(
        &self,
        delivery: &Delivery,
        delay: Duration,
        _error: &str,
        charge_attempt: bool,
    ) -> Result<(), TransportError> {
        self.retries.lock().expect("retries").push((
            delivery.envelope.message_id,
            delay,
            charge_attempt,
        ));
        Ok(())
    }

    async fn dead_letter(&self, _delivery: &Delivery, _error: &str) -> Result<(), TransportError> {
        unreachable!("no message has used up its attempts")
    }
}

/// Refuses the message named `poison`; finds every other one's dependency down.
struct Failing {
    poison: Uuid,
}

#[async_trait]
impl Handler for Failing {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        if envelope.message_id == self.poison {
            Err(HandleError::Rejected(anyhow::anyhow!("cannot be served")))
        } else {
            Err(HandleError::Unavailable(anyhow::anyhow!("database down")))
        }
    }
}

/// A delivery that has been around many times already: charged `attempts`, handed out twenty
/// times.
fn delivery(tag: i64, attempts: u32) -> Delivery {
    let envelope: Envelope = serde_json::from_value(serde_json::json!({
        "message_id": Uuid::now_v7(),
        "type": "inventory.reserve",
        "schema_version": 1,
        "correlation_id": Uuid::now_v7(),
        "causation_id": null,
        "occurred_at": "2026-11-23T10:00:00Z",
        "traceparent": null,
        "payload": {}
    }))
    .expect("envelope");
    Delivery {
        tag,
        envelope,
        attempts,
        redeliveries: 20,
    }
}

async fn consume_for(queue: &Arc<OutageQueue>, handler: Failing, duration: Duration) {
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_consumer(
        queue.clone(),
        Arc::new(handler),
        POLICY,
        crate::OutageReporter::unheard(),
        shutdown.clone(),
    ));
    tokio::time::sleep(duration).await;
    shutdown.cancel();
    task.await.expect("the consumer loop ends");
}

#[tokio::test(start_paused = true)]
async fn a_message_whose_dependency_is_down_is_retried_within_two_seconds_however_often_it_was() {
    let outage = delivery(1, 0);
    let poison = delivery(2, 1);
    let queue = Arc::new(OutageQueue::new(0, vec![outage.clone(), poison.clone()]));

    consume_for(
        &queue,
        Failing {
            poison: poison.envelope.message_id,
        },
        Duration::from_millis(100),
    )
    .await;

    let retries = queue.retries.lock().expect("retries").clone();
    let (_, delay, charged) = retries
        .iter()
        .find(|(id, ..)| *id == outage.envelope.message_id)
        .expect("retried");
    assert!(!charged, "an outage uses up no attempt");
    assert!(*delay <= Duration::from_secs(2), "{delay:?}");
    let (_, delay, charged) = retries
        .iter()
        .find(|(id, ..)| *id == poison.envelope.message_id)
        .expect("retried");
    assert!(*charged);
    assert!(
        *delay >= POLICY.initial_delay * 2,
        "its own fault backs off by its attempts: {delay:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_consumer_whose_transport_is_down_tries_again_at_least_every_two_seconds() {
    let queue = Arc::new(OutageQueue::new(30, Vec::new()));

    consume_for(
        &queue,
        Failing {
            poison: Uuid::nil(),
        },
        Duration::from_secs(60),
    )
    .await;

    let receives = queue.receives.lock().expect("receives").clone();
    let gaps: Vec<Duration> = receives.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert!(gaps.len() >= 30, "{gaps:?}");
    assert!(
        gaps[..30].iter().all(|gap| *gap <= Duration::from_secs(2)),
        "{gaps:?}"
    );
}
