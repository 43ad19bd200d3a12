//! What the consumer and librdkafka's callbacks share: the offsets, the events handed out,
//! held for a retry or waiting to be parked; and the callbacks themselves (assignments,
//! revocations, commit results).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use contracts::Envelope;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaResult;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use tracing::debug;

use crate::offsets::Offsets;

/// An event read from the stream, handed out or held.
#[derive(Debug)]
pub(super) struct Read {
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) generation: u64,
    pub(super) body: Vec<u8>,
    pub(super) envelope: Envelope,
    pub(super) attempts: u32,
    pub(super) redeliveries: u32,
}

/// A body that is not an envelope, waiting to be parked.
#[derive(Debug)]
pub(super) struct Unreadable {
    pub(super) partition: i32,
    pub(super) offset: i64,
    pub(super) generation: u64,
    pub(super) body: Vec<u8>,
    pub(super) error: String,
    pub(super) due: Instant,
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) offsets: Offsets,
    pub(super) handed_out: HashMap<i64, Read>,
    /// Events to hand out again, each when due.
    pub(super) held: Vec<(Instant, Read)>,
    pub(super) unreadable: Vec<Unreadable>,
}

impl State {
    pub(super) fn forget(&mut self, partition: i32) {
        self.offsets.revoke(partition);
        self.handed_out
            .retain(|_, read| read.partition != partition);
        self.held.retain(|(_, read)| read.partition != partition);
        self.unreadable.retain(|u| u.partition != partition);
    }

    pub(super) fn load(&self) -> usize {
        self.handed_out.len() + self.held.len() + self.unreadable.len()
    }
}

/// What the consumer and librdkafka's callbacks share. Locked briefly and never while the
/// consumer is polled, since callbacks run inside the poll.
#[derive(Debug, Default)]
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves the offsets as they were: still consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// librdkafka's callbacks: assignments, revocations and commit results.
pub(super) struct StreamContext {
    pub(super) shared: Arc<Shared>,
}

impl ClientContext for StreamContext {}

impl ConsumerContext for StreamContext {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(partitions) = rebalance {
            let mut state = self.shared.lock();
            for element in partitions.elements() {
                debug!(partition = element.partition(), "partition revoked");
                state.forget(element.partition());
            }
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(partitions) = rebalance {
            let mut state = self.shared.lock();
            for element in partitions.elements() {
                debug!(partition = element.partition(), "partition assigned");
                state.offsets.assign(element.partition());
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        let mut state = self.shared.lock();
        for element in offsets.elements() {
            let confirmed = result.is_ok() && element.error().is_ok();
            match element.offset() {
                Offset::Offset(position) if confirmed => {
                    state.offsets.confirmed(element.partition(), position);
                }
                _ => state.offsets.commit_failed(element.partition()),
            }
        }
        if let Err(error) = result {
            debug!(%error, "offset commit failed; asking again");
        }
    }
}
