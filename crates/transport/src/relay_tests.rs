//! The relay's pace, on a paused clock: how long it waits after a failed publish, how often it
//! looks at an idle outbox, and when it gives up at shutdown. The outbox and the transport are
//! fakes that note the (virtual) time of every call, so the waits are checked exactly.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use contracts::value::OrderId;
use contracts::{Envelope, Message, StockReserved};
use store::{OutboxEntry, OutboxReader};
use time::OffsetDateTime;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::{Publisher, TransportError, run_relay};

/// An outbox in memory that notes how long the relay waits for news each time.
#[derive(Default)]
struct MemoryOutbox {
    entries: Mutex<Vec<OutboxEntry>>,
    waits: Mutex<Vec<Duration>>,
}

impl MemoryOutbox {
    fn add(&self, id: i64) {
        let message = Message::from(StockReserved {
            order_id: OrderId::new(Uuid::now_v7()),
        });
        let envelope = Envelope::build(Uuid::now_v7(), &message).at(OffsetDateTime::UNIX_EPOCH);
        self.entries
            .lock()
            .expect("entries")
            .push(OutboxEntry { id, envelope });
    }

    fn ids(&self) -> Vec<i64> {
        let entries = self.entries.lock().expect("entries");
        entries.iter().map(|entry| entry.id).collect()
    }

    fn unpublished(&self) -> usize {
        self.entries.lock().expect("entries").len()
    }

    fn waits(&self) -> Vec<Duration> {
        self.waits.lock().expect("waits").clone()
    }
}

#[async_trait]
impl OutboxReader for MemoryOutbox {
    async fn pending(&self, max: usize) -> store::Result<Vec<OutboxEntry>> {
        let entries = self.entries.lock().expect("entries");
        Ok(entries.iter().take(max).cloned().collect())
    }

    async fn mark_published(&self, ids: &[i64]) -> store::Result<()> {
        self.entries
            .lock()
            .expect("entries")
            .retain(|entry| !ids.contains(&entry.id));
        Ok(())
    }

    async fn wait_for_new(&self, timeout: Duration) {
        // No commit ever wakes it: the relay's own polling does.
        self.waits.lock().expect("waits").push(timeout);
        tokio::time::sleep(timeout).await;
    }

    async fn lag(&self) -> store::Result<u64> {
        Ok(self.unpublished() as u64)
    }
}

/// A transport that is down for its first `failures` publishes, and notes when each came.
struct FlakyTransport {
    failures: Mutex<usize>,
    attempts: Mutex<Vec<Instant>>,
}

impl FlakyTransport {
    fn down_for(failures: usize) -> Self {
        Self {
            failures: Mutex::new(failures),
            attempts: Mutex::new(Vec::new()),
        }
    }

    fn go_down_for(&self, failures: usize) {
        *self.failures.lock().expect("failures") = failures;
    }

    /// The time between one publish attempt and the next.
    fn gaps(&self) -> Vec<Duration> {
        let attempts = self.attempts.lock().expect("attempts");
        attempts.windows(2).map(|pair| pair[1] - pair[0]).collect()
    }

    fn attempts(&self) -> usize {
        self.attempts.lock().expect("attempts").len()
    }
}

#[async_trait]
impl Publisher for FlakyTransport {
    async fn publish(&self, _batch: &[Envelope]) -> Result<(), TransportError> {
        self.attempts.lock().expect("attempts").push(Instant::now());
        let mut failures = self.failures.lock().expect("failures");
        if *failures == 0 {
            return Ok(());
        }
        *failures -= 1;
        Err(TransportError(anyhow::anyhow!("broker unreachable")))
    }
}

/// A relay running on its own task until stopped.
struct RunningRelay {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl RunningRelay {
    fn start(outbox: &Arc<MemoryOutbox>, transport: &Arc<FlakyTransport>) -> Self {
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run_relay(
            "test",
            outbox.clone(),
            transport.clone(),
            crate::OutageReporter::unheard(),
            shutdown.clone(),
        ));
        Self { shutdown, task }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.expect("the relay ends");
    }
}

fn ms(millis: &[u64]) -> Vec<Duration> {
    millis.iter().copied().map(Duration::from_millis).collect()
}

#[tokio::test(start_paused = true)]
async fn a_relay_that_cannot_publish_waits_200_ms_then_twice_as_long_each_time_up_to_1_6_s() {
    let outbox = Arc::new(MemoryOutbox::default());
    outbox.add(1);
    let transport = Arc::new(FlakyTransport::down_for(8));

    let relay = RunningRelay::start(&outbox, &transport);
    tokio::time::sleep(Duration::from_secs(60)).await;
    relay.stop().await;

    assert_eq!(
        transport.gaps(),
        ms(&[200, 400, 800, 1600, 1600, 1600, 1600, 1600])
    );
    assert_eq!(
        outbox.unpublished(),
        0,
        "published once the transport is back"
    );
}

#[tokio::test(start_paused = true)]
async fn a_relay_s_backoff_starts_over_after_a_batch_goes_through() {
    let outbox = Arc::new(MemoryOutbox::default());
    outbox.add(1);
    let transport = Arc::new(FlakyTransport::down_for(3));
    let relay = RunningRelay::start(&outbox, &transport);
    tokio::time::sleep(Duration::from_secs(10)).await;

    transport.go_down_for(1);
    outbox.add(2);
    tokio::time::sleep(Duration::from_secs(10)).await;
    relay.stop().await;

    let gaps = transport.gaps();
    assert_eq!(gaps[..3], ms(&[200, 400, 800]));
    assert_eq!(gaps.last(), Some(&Duration::from_millis(200)));
    assert_eq!(outbox.unpublished(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_idle_relay_looks_at_its_outbox_every_250_ms_in_case_a_wake_up_is_missed() {
    let outbox = Arc::new(MemoryOutbox::default());
    let transport = Arc::new(FlakyTransport::down_for(0));

    let relay = RunningRelay::start(&outbox, &transport);
    // Off the relay's beat (every 250 ms from 0), so that no two timers fire at once.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    outbox.add(1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let published_within_a_poll = transport.attempts() == 1;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let marked_by_the_look_after = outbox.unpublished() == 0;
    relay.stop().await;

    assert!(published_within_a_poll, "found by the next look");
    assert!(
        marked_by_the_look_after,
        "marked published by the look after"
    );
    assert_eq!(transport.attempts(), 1, "published once");
    let waits = outbox.waits();
    assert!(waits.len() >= 4, "{waits:?}");
    assert!(waits.iter().all(|wait| *wait == Duration::from_millis(250)));
}

#[tokio::test(start_paused = true)]
async fn a_relay_shut_down_while_the_transport_is_down_gives_up_after_four_attempts() {
    let outbox = Arc::new(MemoryOutbox::default());
    outbox.add(1);
    let transport = Arc::new(FlakyTransport::down_for(usize::MAX));
    let relay = RunningRelay::start(&outbox, &transport);
    let started = Instant::now();

    relay.stop().await;

    assert_eq!(transport.attempts(), 4);
    assert_eq!(transport.gaps(), ms(&[200, 400, 800]));
    assert_eq!(started.elapsed(), Duration::from_millis(1400));
    assert_eq!(outbox.unpublished(), 1, "left for the next start");
}

#[tokio::test(start_paused = true)]
async fn a_relay_marks_a_batch_published_with_its_next_read_and_its_last_one_when_it_shuts_down() {
    let outbox = Arc::new(MemoryOutbox::default());
    outbox.add(1);
    let transport = Arc::new(FlakyTransport::down_for(0));
    let relay = RunningRelay::start(&outbox, &transport);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after_publishing = outbox.unpublished();

    outbox.add(2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let after_the_next_read = outbox.ids();
    relay.stop().await;

    assert_eq!(transport.attempts(), 2, "each message published once");
    assert_eq!(
        after_publishing, 1,
        "not marked until the relay reads again"
    );
    assert_eq!(
        after_the_next_read,
        [2],
        "the first marked by the read of the second"
    );
    assert_eq!(outbox.unpublished(), 0, "the last one marked at shutdown");
}
