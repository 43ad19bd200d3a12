//! Deliveries held back by the fault injector, and the pool of copies that every consumer of
//! one queue in a process shares, so a copy may run at the same time as its original.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::Delivery;

/// Copies waiting to be handed out by any consumer of one queue in this process.
#[derive(Debug, Default)]
pub(crate) struct CopyPool {
    copies: Mutex<Vec<Held>>,
    /// Wakes consumers waiting for messages when a copy is added.
    pub(super) added: Notify,
}

impl CopyPool {
    fn lock(&self) -> MutexGuard<'_, Vec<Held>> {
        self.copies.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn add(&self, copies: Vec<Held>) {
        if copies.is_empty() {
            return;
        }
        self.lock().extend(copies);
        self.added.notify_waiters();
    }

    /// Takes the copies that are due at `now`.
    pub(super) fn take_due(&self, now: Instant) -> Vec<Held> {
        let mut copies = self.lock();
        let (due, later) = copies.drain(..).partition(|copy| copy.ready_at <= now);
        *copies = later;
        due
    }

    pub(super) fn next_due(&self) -> Option<Instant> {
        self.lock().iter().map(|copy| copy.ready_at).min()
    }
}

/// A delivery not handed out yet.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub(super) ready_at: Instant,
    pub(super) delivery: Delivery,
}
