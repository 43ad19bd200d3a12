//! Consuming one queue: a channel with a prefetch window and a `basic.consume` stream,
//! reopened after a failure.
//!
//! A retry is a confirmed copy published to a retry tier (which dead-letters it back into the
//! queue when its TTL expires), then an ack of the original; a dead letter is a confirmed copy
//! in the queue's dead-letter queue, then an ack. The body is copied byte for byte. If the copy
//! cannot be published the original is handed back to the broker (nack with requeue), so it is
//! delivered again rather than held by this consumer.
//!
//! [`Delivery::tag`] is this consumer's own sequence number, not the broker's delivery tag:
//! tags restart on every channel, and a tag from a channel that died must never settle a
//! message of its successor.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex as SyncMutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use contracts::{Envelope, Queue};
use lapin::options::BasicAckOptions;
use lapin::{Acker, BasicProperties};
use tracing::warn;
use transport::{Delivery, QueueConsumer, TransportError};
use uuid::Uuid;

use crate::error::unavailable;
use crate::headers::{self, ATTEMPTS, DEAD_LETTERED_AT, DELIVERIES, ERROR, LAST_ERROR};
use crate::session::within;
use crate::transport::AmqpTransport;

mod settle;
mod subscription;

pub(crate) use settle::now_ms;
use settle::{InFlight, ack, copy_then_ack};
use subscription::{Next, Subscription};

/// How long `receive` waits for a first message before it returns nothing.
const FIRST_DELIVERY_WAIT: Duration = Duration::from_millis(100);

/// Receives and settles the messages of one queue. Dropping it closes its channel, and the
/// broker delivers what it had not settled again.
#[derive(Debug)]
pub struct AmqpQueueConsumer {
    transport: AmqpTransport,
    queue: Queue,
    state: tokio::sync::Mutex<State>,
    in_flight: SyncMutex<HashMap<i64, InFlight>>,
    next_tag: AtomicI64,
}

#[derive(Debug, Default)]
struct State {
    subscription: Option<Subscription>,
    /// Deliveries that arrived while waiting for messages, for the next `receive`.
    buffered: VecDeque<lapin::message::Delivery>,
    /// The most a receive has asked for: the prefetch window is at least that, so that a
    /// handler taking large batches gets them whole.
    batch: u16,
}

impl AmqpQueueConsumer {
    pub(crate) fn new(transport: AmqpTransport, queue: Queue) -> Self {
        Self {
            transport,
            queue,
            state: tokio::sync::Mutex::new(State::default()),
            in_flight: SyncMutex::new(HashMap::new()),
            next_tag: AtomicI64::new(1),
        }
    }

    /// The live subscription, opening a new channel and consumer when there is none.
    async fn subscription<'s>(
        &self,
        state: &'s mut State,
    ) -> Result<&'s mut Subscription, TransportError> {
        if !state
            .subscription
            .as_ref()
            .is_some_and(Subscription::is_alive)
        {
            state.subscription = None;
            state.buffered.clear();
            // Deliveries of a dead channel go back to the queue by themselves.
            self.in_flight().retain(|_, entry| !entry.acker.poisoned());
            let prefetch = self.transport.prefetch().max(state.batch);
            state.subscription =
                Some(Subscription::open(&self.transport, self.queue, prefetch).await?);
        }
        state
            .subscription
            .as_mut()
            .ok_or_else(|| unavailable("the subscription vanished"))
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<i64, InFlight>> {
        // A panic while holding this lock cannot leave the map half-updated.
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn take(&self, delivery: &Delivery) -> Result<InFlight, TransportError> {
        self.in_flight().remove(&delivery.tag).ok_or_else(|| {
            unavailable(format!(
                "delivery {} is unknown: already settled, or its channel closed",
                delivery.tag
            ))
        })
    }

    /// Makes a delivery of the port out of a broker delivery; parks a body that is not an
    /// envelope in the dead-letter queue at once.
    async fn accept(&self, delivery: lapin::message::Delivery) -> Option<Delivery> {
        let lapin::message::Delivery {
            data,
            properties,
            redelivered,
            acker,
            ..
        } = delivery;
        let envelope = match serde_json::from_slice::<Envelope>(&data) {
            Ok(envelope) => envelope,
            Err(error) => {
                let error = format!("cannot decode the envelope: {error}");
                self.park_undecodable(acker, data, &properties, &error)
                    .await;
                return None;
            }
        };
        let attempts = headers::read_count(&properties, ATTEMPTS);
        let deliveries = headers::read_count(&properties, DELIVERIES);
        let returned = headers::broker_redeliveries(&properties).unwrap_or(u32::from(redelivered));
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
        self.in_flight().insert(
            tag,
            InFlight {
                acker,
                body: data,
                properties,
                attempts,
                deliveries,
            },
        );
        Some(Delivery {
            tag,
            envelope,
            attempts,
            redeliveries: deliveries.saturating_add(returned),
        })
    }

    /// Parks a body that is not an envelope: no handler can ever take it.
    async fn park_undecodable(
        &self,
        acker: Acker,
        body: Vec<u8>,
        properties: &BasicProperties,
        error: &str,
    ) {
        warn!(
            queue = self.queue.name(),
            error, "message is not an envelope; parking it"
        );
        let attempts = headers::read_count(properties, ATTEMPTS);
        let mut parked = headers::copy_with(
            properties,
            &[
                (ERROR, Some(headers::error_text(error))),
                (ATTEMPTS, Some(headers::number(i64::from(attempts) + 1))),
                (DEAD_LETTERED_AT, Some(headers::number(now_ms()))),
            ],
        );
        if parked.message_id().is_none() {
            // Dead letters are addressed by message id.
            parked = parked.with_message_id(Uuid::now_v7().to_string().into());
        }
        let entry = InFlight {
            acker,
            body,
            properties: properties.clone(),
            attempts,
            deliveries: 0,
        };
        let routing_key = self.transport.topology().dead_letter_queue(self.queue);
        if let Err(error) = copy_then_ack(&self.transport, entry, routing_key, parked).await {
            warn!(
                queue = self.queue.name(),
                error = format!("{:#}", anyhow::Error::new(error)),
                "cannot park an undecodable message; it comes back"
            );
        }
    }
}

#[async_trait]
impl QueueConsumer for AmqpQueueConsumer {
    fn queue(&self) -> Queue {
        self.queue
    }

    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, TransportError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let mut state = self.state.lock().await;
        state.batch = state.batch.max(u16::try_from(max).unwrap_or(u16::MAX));
        let mut received = Vec::new();
        while received.len() < max {
            let Some(delivery) = state.buffered.pop_front() else {
                break;
            };
            received.push(delivery);
        }
        let mut ended = None;
        match self.subscription(&mut state).await {
            Err(error) if received.is_empty() => return Err(error),
            Err(_) => {}
            Ok(subscription) => {
                if received.is_empty() {
                    match tokio::time::timeout(FIRST_DELIVERY_WAIT, subscription.next()).await {
                        Err(_) => return Ok(Vec::new()),
                        Ok(Next::Delivery(delivery)) => received.push(*delivery),
                        Ok(Next::Ended(error)) => ended = Some(error),
                    }
                }
                while ended.is_none() && received.len() < max {
                    match subscription.ready().await {
                        None => break,
                        Some(Next::Delivery(delivery)) => received.push(*delivery),
                        Some(Next::Ended(error)) => ended = Some(error),
                    }
                }
            }
        }
        if let Some(error) = ended {
            state.subscription = None;
            if received.is_empty() {
                return Err(error);
            }
        }
        drop(state);
        let mut deliveries = Vec::with_capacity(received.len());
        for delivery in received {
            if let Some(delivery) = self.accept(delivery).await {
                deliveries.push(delivery);
            }
        }
        Ok(deliveries)
    }

    async fn wait_for_messages(&self, timeout: Duration) {
        let mut state = self.state.lock().await;
        if !state.buffered.is_empty() {
            return;
        }
        let waited = match self.subscription(&mut state).await {
            Ok(subscription) => tokio::time::timeout(timeout, subscription.next())
                .await
                .ok(),
            Err(_) => {
                drop(state);
                tokio::time::sleep(timeout).await;
                return;
            }
        };
        match waited {
            None => {}
            Some(Next::Delivery(delivery)) => state.buffered.push_back(*delivery),
            Some(Next::Ended(_)) => state.subscription = None,
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), TransportError> {
        let entry = self.take(delivery)?;
        ack(&entry.acker).await
    }

    /// One `basic.ack` with `multiple` set, for the last of the receive's deliveries: the
    /// broker settles it and every earlier one on its channel at once (on a quorum queue, one
    /// settlement in its log instead of one each). Every earlier delivery of the channel is
    /// settled already (receives are handled and settled in turn) or is one of these.
    async fn ack_all(&self, deliveries: &[Delivery]) -> Result<(), TransportError> {
        let mut entries = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            entries.push(self.take(delivery)?);
        }
        let Some(last) = deliveries
            .iter()
            .zip(&entries)
            .max_by_key(|(delivery, _)| delivery.tag)
            .map(|(_, entry)| entry)
        else {
            return Ok(());
        };
        let all = BasicAckOptions { multiple: true };
        if within("ack deliveries", last.acker.ack(all)).await? {
            Ok(())
        } else {
            Err(unavailable(
                "cannot ack: the deliveries' channel is closed, and the broker delivers them again",
            ))
        }
    }

    async fn retry(
        &self,
        delivery: &Delivery,
        delay: Duration,
        error: &str,
        charge_attempt: bool,
    ) -> Result<(), TransportError> {
        let entry = self.take(delivery)?;
        let topology = self.transport.topology();
        let routing_key = match topology.tier_for(delay) {
            Some(tier) => topology.retry_queue(self.queue, tier),
            None => topology.queue(self.queue),
        };
        let attempts = entry.attempts.saturating_add(u32::from(charge_attempt));
        let properties = headers::copy_with(
            &entry.properties,
            &[
                (ATTEMPTS, Some(headers::number(i64::from(attempts)))),
                (
                    DELIVERIES,
                    Some(headers::number(i64::from(entry.deliveries) + 1)),
                ),
                (LAST_ERROR, Some(headers::error_text(error))),
            ],
        );
        copy_then_ack(&self.transport, entry, routing_key, properties).await
    }

    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), TransportError> {
        let entry = self.take(delivery)?;
        let properties = headers::copy_with(
            &entry.properties,
            &[
                (ERROR, Some(headers::error_text(error))),
                (
                    ATTEMPTS,
                    Some(headers::number(i64::from(entry.attempts) + 1)),
                ),
                (DEAD_LETTERED_AT, Some(headers::number(now_ms()))),
            ],
        );
        let routing_key = self.transport.topology().dead_letter_queue(self.queue);
        copy_then_ack(&self.transport, entry, routing_key, properties).await
    }
}
