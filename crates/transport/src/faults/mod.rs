//! Fault injection, for tests: a decorator over any transport that makes delivery hostile on
//! purpose. It hands deliveries to a handler twice, holds them back and hands them out
//! shuffled, delays some, and drops some acknowledgements so the message is delivered again;
//! its publisher publishes some messages twice. Everything the ports allow a real broker to do,
//! more often than a real broker does it.
//!
//! It is off unless configured ([`Faults`], `ORDERFLOW_FAULTS`), and it never loses a message:
//! a delivery it holds stays leased in (or unacknowledged by) the transport underneath, so a
//! process that dies with deliveries held gets them back like any unsettled delivery.
//!
//! The decisions come from seeded random number generators, one per consumer, publisher and
//! kind of decision, derived from [`Faults::seed`], the queue and the consumer's index: the
//! n-th delivery a consumer receives always gets the same fate for the same seed. Which
//! message is the n-th depends on how threads and processes interleave, which no seed fixes,
//! so a seed repeats a run's pattern of faults, not the run bit for bit.

mod consumer;
mod copies;
#[cfg(test)]
pub(crate) mod fake_queue;
mod publisher;
mod settings;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use contracts::Queue;
use rand::SeedableRng as _;
use rand::rngs::StdRng;

use crate::{Publisher, QueueConsumer};

pub use settings::{Faults, InvalidFaults};

use consumer::FaultyConsumer;
use copies::CopyPool;
use publisher::FaultyPublisher;

/// Wraps the consumers and the publisher of one queue's service in one process with the
/// faults of a [`Faults`] setting. The consumers it wraps share the duplicates they make: a
/// copy may reach a sibling consumer, and so run at the same time as its original.
#[derive(Debug)]
pub struct FaultInjector {
    faults: Faults,
    queue: Queue,
    copies: Arc<CopyPool>,
}

impl FaultInjector {
    pub fn new(faults: Faults, queue: Queue) -> Self {
        Self {
            faults,
            queue,
            copies: Arc::default(),
        }
    }

    /// `inner`, a consumer of this injector's queue, with faults; `index` tells the consumers
    /// of one queue apart, so each draws its own decisions.
    pub fn consumer(&self, inner: Arc<dyn QueueConsumer>, index: u32) -> Arc<dyn QueueConsumer> {
        let rng = |purpose: &str| self.rng(purpose, index);
        Arc::new(FaultyConsumer::new(
            inner,
            self.faults,
            self.copies.clone(),
            [rng("deliveries"), rng("acks")],
        ))
    }

    /// `inner` publishing some messages a second time.
    pub fn publisher(&self, inner: Arc<dyn Publisher>) -> Arc<dyn Publisher> {
        Arc::new(FaultyPublisher::new(
            inner,
            self.faults.republish,
            self.rng("publish", 0),
        ))
    }

    /// A generator of its own for each queue, purpose and index, all fixed by the seed.
    fn rng(&self, purpose: &str, index: u32) -> StdRng {
        StdRng::seed_from_u64(self.faults.seed ^ label_hash(self.queue.name(), purpose, index))
    }
}

/// FNV-1a over the parts of a label: a stable hash (unlike the standard library's, which is
/// randomized per process), so the same seed gives the same streams in every process.
fn label_hash(queue: &str, purpose: &str, index: u32) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = queue
        .bytes()
        .chain([b'/'])
        .chain(purpose.bytes())
        .chain([b'/'])
        .chain(index.to_le_bytes());
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
