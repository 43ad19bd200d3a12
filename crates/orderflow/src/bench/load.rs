//! The two loads. Closed: N workers, each placing an order and waiting for it to end before
//! placing the next. Open: orders sent at a fixed rate whether or not earlier ones ended,
//! each latency measured from the time it was meant to be sent, so a server that falls behind
//! is not flattered by a bench that slowed down with it (no coordinated omission).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use api_client::{ApiClient, ClientError};
use tokio::task::JoinSet;

use super::mix::Mix;
use super::report::Tally;
use super::tracker::Tracker;
use super::{Load, Stop};

/// One run under way: what it sends, and what it has seen.
pub(crate) struct Run {
    pub(crate) client: ApiClient,
    pub(crate) tracker: Tracker,
    pub(crate) mix: Mix,
    pub(crate) stop: Stop,
    pub(crate) patience: Duration,
    pub(crate) start: Instant,
    pub(crate) tally: Mutex<Tally>,
    next: AtomicU64,
    /// When the last order was sent, in microseconds since `start`: the load's end.
    last_sent_micros: AtomicU64,
    /// For the progress bar.
    pub(crate) accepted: AtomicU64,
    pub(crate) ended: AtomicU64,
}

impl Run {
    pub(crate) fn new(
        client: ApiClient,
        tracker: Tracker,
        plan: &super::Plan,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client,
            tracker,
            mix: plan.mix,
            stop: plan.stop,
            patience: plan.patience,
            start: Instant::now(),
            tally: Mutex::new(Tally::new()?),
            next: AtomicU64::new(0),
            last_sent_micros: AtomicU64::new(0),
            accepted: AtomicU64::new(0),
            ended: AtomicU64::new(0),
        })
    }

    /// The number of the next order to send at `intended`, or `None` when the run is over.
    fn next_order(&self, intended: Instant) -> Option<u64> {
        let next = match self.stop {
            Stop::After(duration) if intended.duration_since(self.start) >= duration => None,
            Stop::Orders(count) => {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                (n < count).then_some(n)
            }
            Stop::After(_) => Some(self.next.fetch_add(1, Ordering::Relaxed)),
        };
        if next.is_some() {
            let sent = u64::try_from(intended.duration_since(self.start).as_micros());
            self.last_sent_micros
                .fetch_max(sent.unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        next
    }

    /// How long orders were sent for.
    pub(crate) fn load_duration(&self) -> Duration {
        Duration::from_micros(self.last_sent_micros.load(Ordering::Relaxed))
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts the answer to a POST; the order's id when it was accepted. Accepted and refused
    /// answers have latencies of their own: a fast refusal must not flatter the accepted.
    fn answered(
        &self,
        answer: Result<api_client::Placement, ClientError>,
        latency: Duration,
    ) -> Option<uuid::Uuid> {
        let mut tally = self.tally();
        let refused = match answer {
            Ok(placement) => {
                tally.accepted += 1;
                Tally::record(&mut tally.post, latency);
                self.accepted.fetch_add(1, Ordering::Relaxed);
                return Some(placement.accepted.order_id);
            }
            Err(ClientError::Problem { status, .. } | ClientError::Unexpected { status, .. }) => {
                Tally::record(&mut tally.refused, latency);
                status.as_u16().to_string()
            }
            Err(ClientError::Unreachable { .. }) => "unreachable".to_owned(),
        };
        *tally.rejected.entry(refused).or_default() += 1;
        None
    }

    /// Places order `n`, meant to be sent at `intended`, and waits until it ends.
    async fn place_and_follow(self: Arc<Self>, n: u64, intended: Instant) {
        let answer = self.client.place_order(&self.mix.body(n), None).await;
        let accepted_at = Instant::now();
        let Some(order_id) = self.answered(answer, accepted_at.duration_since(intended)) else {
            return;
        };
        let ended = self.tracker.ended(order_id, self.patience).await;
        let mut tally = self.tally();
        match ended {
            Some(ended) => {
                if ended.status == api::OrderStatus::Completed {
                    tally.completed += 1;
                } else {
                    tally.cancelled += 1;
                }
                Tally::record(&mut tally.terminal, ended.seen.duration_since(intended));
                Tally::record(
                    &mut tally.accepted_to_terminal,
                    ended.seen.saturating_duration_since(accepted_at),
                );
                tally.ended_at.push(ended.seen.duration_since(self.start));
                self.ended.fetch_add(1, Ordering::Relaxed);
            }
            None => tally.unfinished += 1,
        }
    }
}

/// Runs `load` until the run's stop, and every order it sent has ended or run out of patience.
pub(crate) async fn drive(run: Arc<Run>, load: Load) {
    match load {
        Load::Closed { concurrency } => closed(run, concurrency).await,
        Load::Open { rate } => open(run, rate).await,
    }
}

async fn closed(run: Arc<Run>, concurrency: usize) {
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let run = run.clone();
        workers.spawn(async move {
            while let Some(n) = run.next_order(Instant::now()) {
                run.clone().place_and_follow(n, Instant::now()).await;
            }
        });
    }
    while workers.join_next().await.is_some() {}
}

async fn open(run: Arc<Run>, rate: f64) {
    let mut orders = JoinSet::new();
    let mut sent: u32 = 0;
    loop {
        let intended = run.start + Duration::from_secs_f64(f64::from(sent) / rate);
        tokio::time::sleep_until(intended.into()).await;
        let Some(n) = run.next_order(intended) else {
            break;
        };
        orders.spawn(run.clone().place_and_follow(n, intended));
        sent = sent.saturating_add(1);
        // Reap finished orders as we go, so the set holds only those in flight.
        while orders.try_join_next().is_some() {}
    }
    while orders.join_next().await.is_some() {}
}
