//! The fault-injecting consumer. It takes deliveries from the consumer it wraps and decides,
//! for each, whether to copy it (a copy is handed out later and settled here, never through the
//! transport: acknowledged, or dropped if it fails, since its original carries the message) and whether to hold it back; ready deliveries wait for a reordering window and
//! leave it shuffled. Acknowledgements may be turned into an immediate redelivery.
//!
//! Deliveries get tags of this consumer's own, mapped back to the wrapped consumer's tags when
//! they are settled, so a copy can never settle (or lose) the message it copies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use contracts::Queue;
use rand::Rng as _;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::Faults;
use super::copies::{CopyPool, Held};
use crate::{Delivery, QueueConsumer, TransportError};

/// The reason a dropped acknowledgement gives for the redelivery it causes.
pub(super) const ACK_DROPPED: &str = "ack dropped by fault injection";
/// At most this many deliveries are held at once; beyond, nothing more is received until
/// some are handed out.
const HOLD_LIMIT: usize = 64;
/// How far a copy may trail its original when no delay is configured.
const COPY_SPREAD: Duration = Duration::from_millis(100);

/// Where a delivery this consumer handed out came from: the wrapped consumer's tag, or none
/// for a copy.
#[derive(Clone, Copy, Debug)]
struct Origin(Option<i64>);

struct State {
    /// Decides the fate of each delivery received, and shuffles.
    deliveries: StdRng,
    /// Decides which acknowledgements are dropped.
    acks: StdRng,
    /// Received or copied, not handed out yet, in the order they came.
    held: Vec<Held>,
    origins: HashMap<i64, Origin>,
    next_tag: i64,
}

impl State {
    fn tag(&mut self, origin: Origin) -> i64 {
        self.next_tag += 1;
        self.origins.insert(self.next_tag, origin);
        self.next_tag
    }
}

pub(super) struct FaultyConsumer {
    inner: Arc<dyn QueueConsumer>,
    faults: Faults,
    copies: Arc<CopyPool>,
    state: Mutex<State>,
}

impl FaultyConsumer {
    pub(super) fn new(
        inner: Arc<dyn QueueConsumer>,
        faults: Faults,
        copies: Arc<CopyPool>,
        [deliveries, acks]: [StdRng; 2],
    ) -> Self {
        Self {
            inner,
            faults,
            copies,
            state: Mutex::new(State {
                deliveries,
                acks,
                held: Vec::new(),
                origins: HashMap::new(),
                next_tag: 0,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn reorders(&self) -> bool {
        self.faults.reorder_window >= 2
    }

    /// Whether held deliveries can be handed out at `now`: some are ready, and their window
    /// is full or the oldest has lingered long enough.
    fn releasable(&self, state: &State, now: Instant) -> bool {
        let ready = state.held.iter().filter(|held| held.ready_at <= now);
        let (count, first_ready) = ready.fold((0, now), |(count, first), held| {
            (count + 1, first.min(held.ready_at))
        });
        // The linger runs from when the first of them became ready, which matches `next_wake`:
        // a wait never ends before something can be handed out.
        count > 0
            && (!self.reorders()
                || count >= self.faults.reorder_window
                || first_ready + self.faults.reorder_linger <= now)
    }

    /// When held deliveries or copies may next be handed out.
    fn next_wake(&self, state: &State, now: Instant) -> Option<Instant> {
        let own = state.held.iter().map(|held| {
            if held.ready_at > now || !self.reorders() {
                held.ready_at
            } else {
                held.ready_at + self.faults.reorder_linger
            }
        });
        own.chain(self.copies.next_due()).min()
    }

    /// Decides the fate of deliveries just received: copied, delayed, or ready now.
    fn admit(&self, state: &mut State, received: Vec<Delivery>, now: Instant) {
        let faults = &self.faults;
        let spread = if faults.max_delay.is_zero() {
            COPY_SPREAD
        } else {
            faults.max_delay
        };
        let mut copies = Vec::new();
        for mut delivery in received {
            // Every delivery draws the same values, so one decision never shifts the next.
            let rng = &mut state.deliveries;
            let (copy, copy_after) = (
                rng.random_bool(faults.duplicate),
                rng.random_range(Duration::ZERO..=spread),
            );
            let (delay, delay_for) = (
                rng.random_bool(faults.delay),
                rng.random_range(Duration::ZERO..=faults.max_delay),
            );
            if copy {
                count(self.inner.queue(), "duplicate");
                copies.push(Held {
                    ready_at: now + copy_after,
                    delivery: Delivery {
                        redeliveries: delivery.redeliveries + 1,
                        ..delivery.clone()
                    },
                });
            }
            if delay {
                count(self.inner.queue(), "delay");
            }
            delivery.tag = state.tag(Origin(Some(delivery.tag)));
            let ready_at = if delay { now + delay_for } else { now };
            state.held.push(Held { ready_at, delivery });
        }
        self.copies.add(copies);
    }

    /// Hands out what is releasable at `now`, at most `max`: the ready deliveries in order,
    /// or, when reordering, the first window of them shuffled.
    fn release(&self, state: &mut State, now: Instant, max: usize) -> Vec<Delivery> {
        if !self.releasable(state, now) {
            return Vec::new();
        }
        let (mut ready, waiting): (Vec<Held>, Vec<Held>) =
            state.held.drain(..).partition(|held| held.ready_at <= now);
        let take = if self.reorders() {
            let window = ready.len().min(self.faults.reorder_window);
            let before: Vec<i64> = ready[..window].iter().map(|h| h.delivery.tag).collect();
            ready[..window].shuffle(&mut state.deliveries);
            let moved = ready[..window]
                .iter()
                .zip(before)
                .filter(|(held, tag)| held.delivery.tag != *tag)
                .count();
            count_many(self.inner.queue(), "reorder", moved);
            window.min(max)
        } else {
            ready.len().min(max)
        };
        let rest = ready.split_off(take);
        state.held = rest.into_iter().chain(waiting).collect();
        ready.into_iter().map(|held| held.delivery).collect()
    }

    /// The delivery as the wrapped consumer handed it out, or `None` for a copy.
    fn settle(&self, delivery: &Delivery) -> Result<Option<Delivery>, TransportError> {
        let Origin(inner_tag) = self.state().origins.remove(&delivery.tag).ok_or_else(|| {
            TransportError(anyhow::anyhow!(
                "delivery {} is unknown to the fault injector: settled already",
                delivery.tag
            ))
        })?;
        Ok(inner_tag.map(|tag| Delivery {
            tag,
            ..delivery.clone()
        }))
    }
}

/// Counts injected faults, so a test can see that they happened.
fn count(queue: Queue, fault: &'static str) {
    count_many(queue, fault, 1);
}

fn count_many(queue: Queue, fault: &'static str, times: usize) {
    if times > 0 {
        metrics::counter!("orderflow_injected_faults_total", "queue" => queue.name(), "fault" => fault)
            .increment(times as u64);
    }
}

#[async_trait]
impl QueueConsumer for FaultyConsumer {
    fn queue(&self) -> Queue {
        self.inner.queue()
    }

    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, TransportError> {
        let now = Instant::now();
        let receive_more = {
            let mut state = self.state();
            for copy in self.copies.take_due(now) {
                let tag = state.tag(Origin(None));
                let delivery = Delivery {
                    tag,
                    ..copy.delivery
                };
                state.held.push(Held { delivery, ..copy });
            }
            !self.releasable(&state, now) && state.held.len() < HOLD_LIMIT
        };
        if receive_more {
            let received = self.inner.receive(max).await?;
            let mut state = self.state();
            self.admit(&mut state, received, Instant::now());
        }
        let mut state = self.state();
        Ok(self.release(&mut state, Instant::now(), max))
    }

    async fn wait_for_messages(&self, timeout: Duration) {
        let now = Instant::now();
        let (wake, full) = {
            let state = self.state();
            if self.releasable(&state, now) || self.copies.next_due().is_some_and(|due| due <= now)
            {
                return;
            }
            (self.next_wake(&state, now), state.held.len() >= HOLD_LIMIT)
        };
        let timeout = wake.map_or(timeout, |wake| timeout.min(wake - now));
        if full {
            // Nothing more is received until some held deliveries leave: waiting for the
            // wrapped queue would only return at once, again and again.
            tokio::time::sleep(timeout).await;
            return;
        }
        tokio::select! {
            () = self.inner.wait_for_messages(timeout) => {}
            () = self.copies.added.notified() => {}
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), TransportError> {
        let Some(inner) = self.settle(delivery)? else {
            return Ok(());
        };
        let dropped = self.state().acks.random_bool(self.faults.drop_ack);
        if dropped {
            debug!(message.id = %delivery.envelope.message_id, "dropping an ack");
            count(self.inner.queue(), "drop_ack");
            self.inner
                .retry(&inner, Duration::ZERO, ACK_DROPPED, false)
                .await
        } else {
            self.inner.ack(&inner).await
        }
    }

    async fn retry(
        &self,
        delivery: &Delivery,
        delay: Duration,
        error: &str,
        charge_attempt: bool,
    ) -> Result<(), TransportError> {
        if let Some(inner) = self.settle(delivery)? {
            return self.inner.retry(&inner, delay, error, charge_attempt).await;
        }
        // The original is retried on its own. Retrying copies too would multiply them: every
        // redelivery of a message that keeps failing may be copied again.
        debug!(
            message.id = %delivery.envelope.message_id,
            error, "a copy made by fault injection failed; dropping the copy"
        );
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), TransportError> {
        if let Some(inner) = self.settle(delivery)? {
            return self.inner.dead_letter(&inner, error).await;
        }
        // The original is delivered, retried and dead-lettered on its own; a copy that fails
        // for good adds nothing to park.
        warn!(
            message.id = %delivery.envelope.message_id,
            error, "a copy made by fault injection failed for the last time; dropping the copy"
        );
        Ok(())
    }
}
