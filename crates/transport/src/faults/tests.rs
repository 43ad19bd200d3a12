//! The fault injector over an in-memory queue, on a paused clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use contracts::{Envelope, Queue};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::consumer::ACK_DROPPED;
use super::fake_queue::{FakeQueue, index_of, message};
use super::{FaultInjector, Faults};
use crate::{Delivery, HandleError, Handler, QueueConsumer, RetryPolicy, run_consumer};

fn faulty(queue: &Arc<FakeQueue>, faults: Faults) -> Arc<dyn QueueConsumer> {
    FaultInjector::new(faults, Queue::Order).consumer(queue.clone(), 0)
}

/// Receives until a receive and a wait of one (virtual) second bring nothing new, and the
/// queue underneath is empty; acknowledges everything. Returns what was handed out, in order.
async fn drain(consumer: &dyn QueueConsumer, queue: &FakeQueue) -> Vec<Delivery> {
    let mut handed_out = Vec::new();
    let mut idle = 0;
    while idle < 2 || !queue.is_empty() {
        let received = consumer.receive(16).await.expect("receive");
        if received.is_empty() {
            idle += 1;
            consumer.wait_for_messages(Duration::from_secs(1)).await;
        } else {
            idle = 0;
        }
        for delivery in received {
            consumer.ack(&delivery).await.expect("ack");
            handed_out.push(delivery);
        }
    }
    handed_out
}

#[tokio::test(start_paused = true)]
async fn every_duplicated_delivery_reaches_the_handler_twice_and_is_acknowledged_once() {
    let queue = Arc::new(FakeQueue::with_messages(5));
    let consumer = faulty(
        &queue,
        Faults {
            duplicate: 1.0,
            ..Faults::none(1)
        },
    );

    let handed_out = drain(consumer.as_ref(), &queue).await;

    let mut times: HashMap<u128, usize> = HashMap::new();
    for delivery in &handed_out {
        *times.entry(index_of(delivery)).or_default() += 1;
    }
    assert_eq!(times, (0..5).map(|index| (index, 2)).collect());
    assert_eq!(queue.state().acked.len(), 5, "copies are settled locally");
    assert!(queue.state().retried.is_empty());
}

#[tokio::test(start_paused = true)]
async fn reordering_shuffles_deliveries_within_their_window() {
    let queue = Arc::new(FakeQueue::with_messages(12));
    let consumer = faulty(
        &queue,
        Faults {
            reorder_window: 4,
            ..Faults::none(3)
        },
    );

    let order: Vec<u128> = drain(consumer.as_ref(), &queue)
        .await
        .iter()
        .map(index_of)
        .collect();

    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..12).collect::<Vec<_>>(), "each exactly once");
    assert_ne!(order, sorted, "some were reordered");
    for (position, index) in order.iter().enumerate() {
        assert_eq!(
            *index / 4,
            position as u128 / 4,
            "{order:?} left its window"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_lone_delivery_waits_for_its_window_no_longer_than_the_linger() {
    let queue = Arc::new(FakeQueue::with_messages(1));
    let linger = Duration::from_millis(20);
    let consumer = faulty(
        &queue,
        Faults {
            reorder_window: 8,
            reorder_linger: linger,
            ..Faults::none(1)
        },
    );
    let started = Instant::now();

    assert!(consumer.receive(16).await.expect("receive").is_empty());
    consumer.wait_for_messages(Duration::from_secs(10)).await;
    let received = consumer.receive(16).await.expect("receive");

    assert_eq!(received.len(), 1);
    assert_eq!(started.elapsed(), linger);
}

#[tokio::test(start_paused = true)]
async fn delayed_deliveries_are_held_until_due_and_the_wait_ends_when_the_first_is() {
    let queue = Arc::new(FakeQueue::with_messages(3));
    let longest = Duration::from_millis(300);
    let consumer = faulty(
        &queue,
        Faults {
            delay: 1.0,
            max_delay: longest,
            ..Faults::none(5)
        },
    );
    let started = Instant::now();

    assert!(consumer.receive(16).await.expect("receive").is_empty());
    let mut arrivals = Vec::new();
    while arrivals.len() < 3 {
        consumer.wait_for_messages(Duration::from_secs(10)).await;
        for delivery in consumer.receive(16).await.expect("receive") {
            arrivals.push(started.elapsed());
            consumer.ack(&delivery).await.expect("ack");
        }
    }

    assert!(arrivals.iter().all(|at| *at <= longest), "{arrivals:?}");
    assert!(arrivals.iter().any(|at| !at.is_zero()), "{arrivals:?}");
    assert_eq!(queue.state().acked.len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_ack_sends_the_message_back_through_the_transport() {
    let queue = Arc::new(FakeQueue::with_messages(1));
    let consumer = faulty(
        &queue,
        Faults {
            drop_ack: 1.0,
            ..Faults::none(1)
        },
    );
    let first = consumer.receive(16).await.expect("receive").remove(0);

    consumer.ack(&first).await.expect("ack");

    let again = consumer.receive(16).await.expect("receive").remove(0);
    assert_eq!(again.envelope, first.envelope);
    assert_eq!((again.attempts, again.redeliveries), (0, 1));
    let retried = queue.state().retried.clone();
    assert_eq!(
        retried,
        [(
            first.envelope.message_id,
            Duration::ZERO,
            ACK_DROPPED.to_owned(),
            false
        )]
    );
    assert!(queue.state().acked.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_failing_copy_is_dropped_here_and_never_touches_the_transport() {
    let queue = Arc::new(FakeQueue::with_messages(2));
    let consumer = faulty(
        &queue,
        Faults {
            duplicate: 1.0,
            ..Faults::none(1)
        },
    );
    let originals = consumer.receive(16).await.expect("receive");
    let mut copies = Vec::new();
    while copies.len() < 2 {
        consumer.wait_for_messages(Duration::from_secs(1)).await;
        copies.extend(consumer.receive(16).await.expect("receive"));
    }

    consumer
        .retry(&copies[0], Duration::from_millis(50), "busy", false)
        .await
        .expect("retry");
    consumer
        .dead_letter(&copies[1], "boom")
        .await
        .expect("dead letter");
    for original in &originals {
        consumer.ack(original).await.expect("ack");
    }
    consumer.wait_for_messages(Duration::from_secs(1)).await;
    let after = consumer.receive(16).await.expect("receive");
    let settled_twice = consumer.ack(&originals[0]).await;

    assert!(after.is_empty(), "nothing comes back: {after:?}");
    assert!(settled_twice.is_err(), "a delivery settles once");
    let state = queue.state();
    assert_eq!(state.acked.len(), 2);
    assert!(state.retried.is_empty() && state.dead_lettered.is_empty());
}

/// What a consumer hands out, as (message, redeliveries), under a mix of every fault.
async fn trace(seed: u64) -> Vec<(u128, u32)> {
    let queue = Arc::new(FakeQueue::with_messages(30));
    let faults = Faults {
        duplicate: 0.3,
        reorder_window: 4,
        delay: 0.3,
        max_delay: Duration::from_millis(100),
        drop_ack: 0.3,
        ..Faults::none(seed)
    };
    let consumer = faulty(&queue, faults);
    drain(consumer.as_ref(), &queue)
        .await
        .iter()
        .map(|delivery| (index_of(delivery), delivery.redeliveries))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_makes_the_same_decisions_and_another_seed_others() {
    let first = trace(42).await;

    let again = trace(42).await;
    let other = trace(43).await;

    assert_eq!(first, again);
    assert_ne!(first, other);
    assert!(first.len() > 30, "some deliveries were repeated: {first:?}");
}

/// Counts how often each test message was handled.
#[derive(Default)]
struct Counting(Mutex<HashMap<u128, usize>>);

#[async_trait]
impl Handler for Counting {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        let index = envelope.correlation_id.as_u128();
        *self
            .0
            .lock()
            .expect("not poisoned")
            .entry(index)
            .or_default() += 1;
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn the_consumer_loop_under_every_fault_handles_each_message_and_leaves_none_behind() {
    let queue = Arc::new(FakeQueue::with_messages(50));
    let faults: Faults = "seed=9,duplicate=0.3,reorder=8,delay=0.3:200ms,drop_ack=0.2"
        .parse()
        .expect("valid");
    let injector = FaultInjector::new(faults, Queue::Order);
    let handler = Arc::new(Counting::default());
    let shutdown = CancellationToken::new();
    let loops: Vec<_> = (0..2)
        .map(|index| {
            tokio::spawn(run_consumer(
                injector.consumer(queue.clone(), index),
                handler.clone(),
                RetryPolicy::default(),
                crate::Outages::new().reporter(),
                shutdown.clone(),
            ))
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(5)).await;
    shutdown.cancel();
    for consumer_loop in loops {
        consumer_loop.await.expect("the loop ends");
    }

    let handled = handler.0.lock().expect("not poisoned").clone();
    assert_eq!(handled.len(), 50, "every message was handled");
    assert!(handled.values().any(|times| *times > 1), "{handled:?}");
    assert!(
        queue.is_empty(),
        "every message was acknowledged in the end"
    );
}

#[tokio::test]
async fn republished_messages_are_published_twice_and_others_once() {
    let batch: Vec<Envelope> = (0..4).map(message).collect();
    let ids: Vec<_> = batch.iter().map(|e| e.message_id).collect();
    let always = Arc::new(FakeQueue::default());
    let never = Arc::new(FakeQueue::default());
    let republishing = |queue: &Arc<FakeQueue>, republish| {
        FaultInjector::new(
            Faults {
                republish,
                ..Faults::none(1)
            },
            Queue::Order,
        )
        .publisher(queue.clone())
    };

    republishing(&always, 1.0)
        .publish(&batch)
        .await
        .expect("publish");
    republishing(&never, 0.0)
        .publish(&batch)
        .await
        .expect("publish");

    assert_eq!(always.state().published, [ids.clone(), ids.clone()]);
    assert_eq!(never.state().published, [ids]);
}
