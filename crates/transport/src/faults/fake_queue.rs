//! An in-memory queue for the fault injector's tests: leases, acknowledgements and retries
//! like the real transports, on tokio's clock (paused in the tests), and a record of how each
//! delivery was settled.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use contracts::{Envelope, Message, Queue, StockReserved};
use time::OffsetDateTime;
use tokio::time::Instant;
use uuid::Uuid;

use crate::{Delivery, Publisher, QueueConsumer, TransportError};

/// The `index`-th test message: its order id is `index`, so a trace can name it.
pub(crate) fn message(index: u128) -> Envelope {
    let message = Message::from(StockReserved {
        order_id: contracts::value::OrderId::new(Uuid::from_u128(index)),
    });
    Envelope::build(Uuid::now_v7(), &message).at(OffsetDateTime::UNIX_EPOCH)
}

/// Which test message a delivery carries.
pub(crate) fn index_of(delivery: &Delivery) -> u128 {
    delivery.envelope.correlation_id.as_u128()
}

#[derive(Default)]
pub(crate) struct FakeQueue {
    state: Mutex<FakeState>,
}

#[derive(Default)]
pub(crate) struct FakeState {
    /// Messages not leased, with when they become visible, in the order they came.
    waiting: Vec<(Instant, Delivery)>,
    leased: HashMap<i64, Delivery>,
    next_tag: i64,
    pub(crate) acked: Vec<Uuid>,
    /// `(message, delay, error, charged)` of every retry.
    pub(crate) retried: Vec<(Uuid, Duration, String, bool)>,
    pub(crate) dead_lettered: Vec<Uuid>,
    /// Every batch published, as message ids.
    pub(crate) published: Vec<Vec<Uuid>>,
}

impl FakeQueue {
    pub(crate) fn with_messages(count: u128) -> Self {
        let queue = Self::default();
        for index in 0..count {
            queue.put(message(index));
        }
        queue
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().expect("not poisoned")
    }

    /// Puts `envelope` on the queue, due now.
    pub(crate) fn put(&self, envelope: Envelope) {
        let delivery = Delivery {
            tag: 0,
            envelope,
            attempts: 0,
            redeliveries: 0,
        };
        self.state().waiting.push((Instant::now(), delivery));
    }

    /// Whether every message was settled for good (acknowledged or dead-lettered).
    pub(crate) fn is_empty(&self) -> bool {
        let state = self.state();
        state.waiting.is_empty() && state.leased.is_empty()
    }

    fn take_leased(&self, delivery: &Delivery) -> Result<Delivery, TransportError> {
        self.state()
            .leased
            .remove(&delivery.tag)
            .ok_or_else(|| TransportError(anyhow::anyhow!("unknown tag {}", delivery.tag)))
    }
}

#[async_trait]
impl QueueConsumer for FakeQueue {
    fn queue(&self) -> Queue {
        Queue::Order
    }

    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, TransportError> {
        let now = Instant::now();
        let mut state = self.state();
        let mut received = Vec::new();
        while received.len() < max {
            let Some(position) = state.waiting.iter().position(|(at, _)| *at <= now) else {
                break;
            };
            let (_, mut delivery) = state.waiting.remove(position);
            state.next_tag += 1;
            delivery.tag = state.next_tag;
            state.leased.insert(delivery.tag, delivery.clone());
            received.push(delivery);
        }
        Ok(received)
    }

    async fn wait_for_messages(&self, timeout: Duration) {
        let now = Instant::now();
        let next = self.state().waiting.iter().map(|(at, _)| *at).min();
        let wait = next.map_or(timeout, |at| timeout.min(at.saturating_duration_since(now)));
        tokio::time::sleep(wait).await;
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), TransportError> {
        let delivery = self.take_leased(delivery)?;
        self.state().acked.push(delivery.envelope.message_id);
        Ok(())
    }

    async fn retry(
        &self,
        delivery: &Delivery,
        delay: Duration,
        error: &str,
        charge_attempt: bool,
    ) -> Result<(), TransportError> {
        let mut delivery = self.take_leased(delivery)?;
        let mut state = self.state();
        state.retried.push((
            delivery.envelope.message_id,
            delay,
            error.to_owned(),
            charge_attempt,
        ));
        delivery.attempts += u32::from(charge_attempt);
        delivery.redeliveries += 1;
        state.waiting.push((Instant::now() + delay, delivery));
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery, _error: &str) -> Result<(), TransportError> {
        let delivery = self.take_leased(delivery)?;
        self.state()
            .dead_lettered
            .push(delivery.envelope.message_id);
        Ok(())
    }
}

#[async_trait]
impl Publisher for FakeQueue {
    async fn publish(&self, batch: &[Envelope]) -> Result<(), TransportError> {
        self.state()
            .published
            .push(batch.iter().map(|e| e.message_id).collect());
        Ok(())
    }
}
