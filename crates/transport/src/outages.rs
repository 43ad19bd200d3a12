//! A process's own outages: its workers (the outbox relay, the queue consumers, the order
//! service's deadline timer) report when they cannot reach a dependency and when they can
//! again, and the process learns how long it could not work.
//!
//! The order service's deadline timer uses it so that a saga's deadline measures how long the
//! saga waited for an answer, not how long its own process could neither send, receive nor
//! store. Outages of other processes are none of its business: a service that does not answer
//! in time is exactly what a deadline is for.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// The outages of one process (or one service in it), as its workers report them.
#[derive(Debug, Default)]
pub struct Outages {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next_reporter: u64,
    /// The workers that cannot reach their dependency now.
    down: HashSet<u64>,
    /// When the current outage began, while some worker is down.
    since: Option<Instant>,
    /// Outage time that ended and was not taken yet.
    untaken: Duration,
}

impl Outages {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state whole, so a panic elsewhere cannot corrupt it.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A reporter for one more worker.
    pub fn reporter(self: &Arc<Self>) -> OutageReporter {
        let mut state = self.state();
        state.next_reporter += 1;
        OutageReporter {
            outages: Arc::clone(self),
            id: state.next_reporter,
        }
    }

    /// Whether some worker cannot reach its dependency now.
    pub fn is_down(&self) -> bool {
        !self.state().down.is_empty()
    }

    /// The outage time that ended since the last call, now taken (zero if none). An outage
    /// still going on is taken once it ends.
    pub fn take_outage_time(&self) -> Duration {
        std::mem::take(&mut self.state().untaken)
    }

    /// Returns outage time that was taken but could not be used, to be taken again.
    pub fn give_back(&self, time: Duration) {
        self.state().untaken += time;
    }
}

/// What one worker reports. Clones report for the same worker.
#[derive(Clone, Debug)]
pub struct OutageReporter {
    outages: Arc<Outages>,
    id: u64,
}

impl OutageReporter {
    /// A reporter whose reports nobody reads, for a worker outside any process's record.
    pub fn unheard() -> Self {
        Outages::new().reporter()
    }

    /// The worker cannot reach its dependency, since `since` (when its failed attempt began).
    pub fn down(&self, since: Instant) {
        let mut state = self.outages.state();
        state.since = Some(state.since.map_or(since, |began| began.min(since)));
        state.down.insert(self.id);
    }

    /// The worker reaches its dependency again; when it was the last one down, the outage
    /// ends and its length can be taken.
    pub fn up(&self) {
        let mut state = self.outages.state();
        if !state.down.remove(&self.id) || !state.down.is_empty() {
            return;
        }
        if let Some(since) = state.since.take() {
            state.untaken += since.elapsed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_outage_lasts_from_the_first_worker_down_to_the_last_one_up() {
        let outages = Outages::new();
        let (relay, consumer) = (outages.reporter(), outages.reporter());
        let began = Instant::now();

        relay.down(began);
        tokio::time::sleep(Duration::from_secs(2)).await;
        consumer.down(Instant::now());
        tokio::time::sleep(Duration::from_secs(3)).await;
        relay.up();

        assert!(outages.is_down(), "the consumer is still down");
        assert_eq!(outages.take_outage_time(), Duration::ZERO, "not over yet");
        tokio::time::sleep(Duration::from_secs(1)).await;
        consumer.up();

        assert!(!outages.is_down());
        assert_eq!(outages.take_outage_time(), Duration::from_secs(6));
        assert_eq!(outages.take_outage_time(), Duration::ZERO, "taken once");
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_counts_from_when_the_failed_attempt_began() {
        let outages = Outages::new();
        let timer = outages.reporter();
        let attempt = Instant::now();
        tokio::time::sleep(Duration::from_secs(10)).await;

        timer.down(attempt);
        timer.down(Instant::now());
        tokio::time::sleep(Duration::from_secs(20)).await;
        timer.up();

        assert_eq!(outages.take_outage_time(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn reports_of_a_worker_that_is_up_change_nothing_and_time_given_back_is_taken_again() {
        let outages = Outages::new();
        let (timer, relay) = (outages.reporter(), outages.reporter());
        timer.up();
        assert!(!outages.is_down());
        relay.down(Instant::now());
        timer.up();

        assert!(outages.is_down(), "the relay is still down");
        relay.up();
        outages.give_back(Duration::from_millis(700));
        assert_eq!(outages.take_outage_time(), Duration::from_millis(700));
    }
}
