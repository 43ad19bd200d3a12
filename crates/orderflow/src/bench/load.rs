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
    retry_refused: bool,
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
            retry_refused: plan.retry_refused,
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
            Err(error) => {
                if !matches!(error, ClientError::Unreachable { .. }) {
                    Tally::record(&mut tally.refused, latency);
                }
                refusal(&error)
            }
        };
        *tally.rejected.entry(refused).or_default() += 1;
        None
    }

    /// Places order `n`; with `retry_refused`, again under the same idempotency key while it
    /// is refused for a while (overloaded, unavailable, unreachable) and patience lasts, each
    /// time waiting longer ([`backoff`]).
    async fn place(&self, n: u64, intended: Instant) -> Result<api_client::Placement, ClientError> {
        let body = self.mix.body(n);
        let key = self.retry_refused.then(|| uuid::Uuid::new_v4().to_string());
        let mut retries = 0;
        loop {
            let answer = self.client.place_order(&body, key.as_deref()).await;
            let wait = match &answer {
                Err(error) if key.is_some() => {
                    retry_after(error).map(|asked| backoff(asked, retries))
                }
                _ => None,
            };
            match (wait, answer) {
                (Some(wait), Err(error)) if intended.elapsed() + wait < self.patience => {
                    *self.tally().retried.entry(refusal(&error)).or_default() += 1;
                    retries += 1;
                    tokio::time::sleep(wait).await;
                }
                (_, answer) => return answer,
            }
        }
    }

    /// Places order `n`, meant to be sent at `intended`, and waits until it ends.
    async fn place_and_follow(self: Arc<Self>, n: u64, intended: Instant) {
        let answer = self.place(n, intended).await;
        let accepted_at = Instant::now();
        let Some(order_id) = self.answered(answer, accepted_at.duration_since(intended)) else {
            return;
        };
        let ended = self.tracker.ended(order_id, self.patience).await;
        let mut tally = self.tally();
        match ended {
            Some(ended) => {
                let completed = ended.status == api::OrderStatus::Completed;
                if completed {
                    tally.completed += 1;
                } else {
                    tally.cancelled += 1;
                }
                match (self.mix.kind(n).completes(), completed) {
                    (true, false) => tally.valid_cancelled += 1,
                    (false, true) => tally.invalid_completed += 1,
                    _ => {}
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

/// How a refusal is counted: its status, or `unreachable` for no answer.
fn refusal(error: &ClientError) -> String {
    match error {
        ClientError::Problem { status, .. } | ClientError::Unexpected { status, .. } => {
            status.as_u16().to_string()
        }
        ClientError::Unreachable { .. } => "unreachable".to_owned(),
    }
}

/// How long to wait before placing a refused order again, if it may be placed again: what a
/// `503` or `429` says (a second if it says nothing), a second after a gateway error or no
/// answer. Any other refusal is the order's own (a `422`) and final.
fn retry_after(error: &ClientError) -> Option<Duration> {
    const DEFAULT: Duration = Duration::from_secs(1);
    match error {
        ClientError::Problem {
            status,
            retry_after,
            ..
        } if matches!(status.as_u16(), 429 | 503) => Some(retry_after.unwrap_or(DEFAULT)),
        ClientError::Problem { status, .. } | ClientError::Unexpected { status, .. }
            if matches!(status.as_u16(), 502..=504) =>
        {
            Some(DEFAULT)
        }
        ClientError::Unreachable { .. } => Some(DEFAULT),
        _ => None,
    }
}

/// How long to wait before placing an order again after `retries` earlier retries: what the
/// server asked, or more, doubling from a second up to 16 s, so that many clients refused at
/// once do not come back all together and keep an overloaded server overloaded.
fn backoff(asked: Duration, retries: u32) -> Duration {
    const LONGEST: Duration = Duration::from_secs(16);
    let doubled = Duration::from_secs(1)
        .saturating_mul(2u32.saturating_pow(retries))
        .min(LONGEST);
    asked.max(doubled)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_order_is_placed_again_ever_later_but_never_sooner_than_asked() {
        let asked = Duration::from_secs(2);
        let waits: Vec<u64> = (0..7).map(|n| backoff(asked, n).as_secs()).collect();
        assert_eq!(waits, [2, 2, 4, 8, 16, 16, 16]);
        assert_eq!(backoff(Duration::from_secs(30), 1), Duration::from_secs(30));
    }
}
