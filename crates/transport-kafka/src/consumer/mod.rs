//! Reading the stream as a member of a consumer group, through the `QueueConsumer` port.
//!
//! One Kafka consumer per process serves every consumer loop of the analytics service (they
//! share it, as competing consumers share a queue). `enable.auto.commit` is off: a partition's
//! offset is committed only up to its first event not settled yet ([`crate::offsets`]), so a
//! crash replays from there and the service's inbox absorbs the repeats.
//!
//! The port's settlements on a log, where nothing is taken out:
//! - **ack**: the event is settled; the partition's commit moves over it once every earlier
//!   one is settled too (committed asynchronously, confirmed by the broker, asked again when
//!   not confirmed).
//! - **retry**: the event is held here and handed out again after the delay, with its
//!   attempts counted; later events of its partition go on meanwhile, but its partition's
//!   commit waits for it. Attempts live in memory: a restart counts a message's attempts from
//!   zero again (bounded: it only replays from the last commit).
//! - **dead_letter**: the event is parked through the [`DeadLetterSink`] (the analytics
//!   queue's dead-letter queue on RabbitMQ, where every other dead letter is), then settled,
//!   so a poison event holds its partition back only for its attempts' backoff. A body that is
//!   not an envelope is parked at once, unread by any handler.
//!
//! At most [`MAX_HELD`] events are handed out or held at once; past that, nothing new is read
//! (an outage of the analytics database must not fill memory with the stream). A revoked
//! partition's events are dropped: their new owner reads them from the last commit.
//!
//! With [`KafkaSettings::instance`] the member is static (`group.instance.id`): a process that
//! starts again under the same id takes its predecessor's place, even when that one was
//! killed and never left. On Kafka this spares a rebalance on every restart; the price is that
//! a process stopped for good keeps its partitions until its session (10 s) expires, since a
//! static member does not leave the group when it closes. On tansu 0.6 it is what makes a
//! restart after `kill -9` work at all: a dynamic successor joins while the dead leader's
//! session still runs, so it is a follower; when that session expires during the follower's
//! SyncGroup, tansu completes the generation with the follower's (empty) assignments and never
//! rebalances again, so the successor heartbeats without a partition for good. A static
//! successor is handed the dead member's id, is the leader, and is assigned its partitions
//! (then, once that member's session is found expired, rebalanced once more).

mod shared;

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_trait::async_trait;
use contracts::{Envelope, Queue};
use futures_util::FutureExt as _;
use rdkafka::consumer::{CommitMode, Consumer as _, StreamConsumer};
use rdkafka::message::{Message as _, OwnedMessage};
use rdkafka::{Offset, TopicPartitionList};
use tracing::{debug, warn};
use transport::{Delivery, QueueConsumer, TransportError};

use self::shared::{Read, Shared, State, StreamContext, Unreadable};
use crate::{DeadLetterSink, KafkaSettings, unavailable};

/// Events handed out or held for a retry, at most; past it the consumer reads nothing new.
pub(crate) const MAX_HELD: usize = 1024;
/// A message that could not be parked is tried again after this.
const PARK_AGAIN_AFTER: Duration = Duration::from_secs(1);
/// After a read error, `wait_for_messages` waits out its timeout rather than spin.
const ERROR_PAUSE: Duration = Duration::from_millis(200);

/// The analytics service's consumer of the stream.
pub struct KafkaQueueConsumer {
    consumer: Arc<StreamConsumer<StreamContext>>,
    shared: Arc<Shared>,
    topic: String,
    sink: Arc<dyn DeadLetterSink>,
    /// Messages read while waiting, for the next `receive`.
    buffered: tokio::sync::Mutex<VecDeque<OwnedMessage>>,
    next_tag: AtomicI64,
}

impl std::fmt::Debug for KafkaQueueConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaQueueConsumer")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl KafkaQueueConsumer {
    /// Joins `settings.group` on `settings.topic` (which must exist: [`crate::ensure_topic`]);
    /// poison goes to `sink`. Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// When the configuration is refused or the subscription fails.
    pub fn new(settings: &KafkaSettings, sink: Arc<dyn DeadLetterSink>) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared::default());
        let mut config = settings.client_config();
        if let Some(instance) = &settings.instance {
            config.set("group.instance.id", instance);
        }
        let consumer: StreamConsumer<StreamContext> = config
            .set("group.id", &settings.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            // A member that died is noticed in seconds, so its partitions move on soon.
            .set("session.timeout.ms", "10000")
            .set("heartbeat.interval.ms", "1000")
            .create_with_context(StreamContext {
                shared: shared.clone(),
            })
            .context("create the kafka consumer")?;
        consumer
            .subscribe(&[&settings.topic])
            .context("subscribe to the stream")?;
        Ok(Self {
            consumer: Arc::new(consumer),
            shared,
            topic: settings.topic.clone(),
            sink,
            buffered: tokio::sync::Mutex::new(VecDeque::new()),
            next_tag: AtomicI64::new(1),
        })
    }

    /// Asks the broker to commit every position that moved (or whose commit is unconfirmed);
    /// the answer comes through [`StreamContext::commit_callback`].
    fn commit_due(&self) {
        let positions = self.shared.lock().offsets.due_commits(Instant::now());
        if positions.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for &(partition, position) in &positions {
            if let Err(error) =
                list.add_partition_offset(&self.topic, partition, Offset::Offset(position))
            {
                warn!(%error, partition, "cannot name an offset to commit");
            }
        }
        if let Err(error) = self.consumer.commit(&list, CommitMode::Async) {
            debug!(%error, "cannot commit offsets; asking again");
            let mut state = self.shared.lock();
            for &(partition, _) in &positions {
                state.offsets.commit_failed(partition);
            }
        }
    }

    fn hand_out(&self, state: &mut State, read: Read) -> Delivery {
        let tag = self.next_tag.fetch_add(1, Ordering::Relaxed);
        let delivery = Delivery {
            tag,
            envelope: read.envelope.clone(),
            attempts: read.attempts,
            redeliveries: read.redeliveries,
        };
        state.handed_out.insert(tag, read);
        delivery
    }

    /// Held events that are due, at most `max`, handed out again.
    fn take_due(&self, max: usize, out: &mut Vec<Delivery>) {
        let now = Instant::now();
        let mut state = self.shared.lock();
        let mut index = 0;
        while index < state.held.len() && out.len() < max {
            if state.held[index].0 <= now {
                let (_, read) = state.held.swap_remove(index);
                if state.offsets.generation(read.partition) == Some(read.generation) {
                    let delivery = self.hand_out(&mut state, read);
                    out.push(delivery);
                }
            } else {
                index += 1;
            }
        }
    }

    /// Parks the unreadable bodies that are due; one that cannot be parked waits again.
    async fn park_unreadable(&self) {
        let now = Instant::now();
        let due: Vec<Unreadable> = {
            let mut state = self.shared.lock();
            let (due, later) = std::mem::take(&mut state.unreadable)
                .into_iter()
                .partition(|u| u.due <= now);
            state.unreadable = later;
            due
        };
        for mut unreadable in due {
            warn!(
                partition = unreadable.partition,
                offset = unreadable.offset,
                error = unreadable.error,
                "stream record is not an envelope; parking it"
            );
            let parked = self
                .sink
                .park(unreadable.body.clone(), None, &unreadable.error, 1)
                .await;
            let mut state = self.shared.lock();
            match parked {
                Ok(()) => {
                    state.offsets.settled(
                        unreadable.partition,
                        unreadable.offset,
                        unreadable.generation,
                    );
                }
                Err(error) => {
                    warn!(
                        error = format!("{:#}", anyhow::Error::new(error)),
                        "cannot park an unreadable record; trying again"
                    );
                    unreadable.due = Instant::now() + PARK_AGAIN_AFTER;
                    state.unreadable.push(unreadable);
                }
            }
        }
    }

    /// Takes a message read from the broker in: handed out, or queued to be parked, or
    /// dropped when its partition is no longer this consumer's.
    fn accept(&self, message: &OwnedMessage, out: &mut Vec<Delivery>) {
        let (partition, offset) = (message.partition(), message.offset());
        let body = message.payload().unwrap_or_default().to_vec();
        let mut state = self.shared.lock();
        let Some(generation) = state.offsets.received(partition, offset) else {
            debug!(
                partition,
                offset, "dropping a record of a revoked partition"
            );
            return;
        };
        match serde_json::from_slice::<Envelope>(&body) {
            Ok(envelope) => {
                let read = Read {
                    partition,
                    offset,
                    generation,
                    body,
                    envelope,
                    attempts: 0,
                    redeliveries: 0,
                };
                let delivery = self.hand_out(&mut state, read);
                out.push(delivery);
            }
            Err(error) => state.unreadable.push(Unreadable {
                partition,
                offset,
                generation,
                body,
                error: format!("cannot decode the envelope: {error}"),
                due: Instant::now(),
            }),
        }
    }

    fn take(&self, delivery: &Delivery) -> Result<Read, TransportError> {
        self.shared
            .lock()
            .handed_out
            .remove(&delivery.tag)
            .ok_or_else(|| {
                unavailable(anyhow::anyhow!(
                    "delivery {} is unknown: already settled, or its partition was revoked",
                    delivery.tag
                ))
            })
    }

    fn hold(&self, due: Instant, read: Read) {
        self.shared.lock().held.push((due, read));
    }

    /// The next moment a held event or an unreadable record falls due.
    fn next_due(&self) -> Option<Instant> {
        let state = self.shared.lock();
        state
            .held
            .iter()
            .map(|(due, _)| *due)
            .chain(state.unreadable.iter().map(|u| u.due))
            .min()
    }
}

#[async_trait]
impl QueueConsumer for KafkaQueueConsumer {
    fn queue(&self) -> Queue {
        Queue::Analytics
    }

    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, TransportError> {
        self.commit_due();
        self.park_unreadable().await;
        let mut out = Vec::new();
        self.take_due(max, &mut out);
        let mut failure = None;
        {
            let mut buffered = self.buffered.lock().await;
            while out.len() < max && self.shared.lock().load() < MAX_HELD {
                let message = match buffered.pop_front() {
                    Some(message) => message,
                    // Polling runs librdkafka's callbacks, which lock the shared state: it is
                    // not held here.
                    None => match self.consumer.recv().now_or_never() {
                        None => break,
                        Some(Ok(message)) => message.detach(),
                        Some(Err(error)) => {
                            failure = Some(error);
                            break;
                        }
                    },
                };
                self.accept(&message, &mut out);
            }
        }
        match failure {
            Some(error) if out.is_empty() => Err(unavailable(
                anyhow::Error::new(error).context("read the stream"),
            )),
            Some(error) => {
                debug!(%error, "stream read failed after some records");
                Ok(out)
            }
            None => Ok(out),
        }
    }

    async fn wait_for_messages(&self, timeout: Duration) {
        let now = Instant::now();
        let wait = match self.next_due() {
            Some(due) if due <= now => return,
            Some(due) => timeout.min(due - now),
            None => timeout,
        };
        if self.shared.lock().load() >= MAX_HELD {
            tokio::time::sleep(wait).await;
            return;
        }
        let mut buffered = self.buffered.lock().await;
        if !buffered.is_empty() {
            return;
        }
        match tokio::time::timeout(wait, self.consumer.recv()).await {
            Err(_) => {}
            Ok(Ok(message)) => buffered.push_back(message.detach()),
            Ok(Err(error)) => {
                debug!(%error, "stream read failed while waiting");
                drop(buffered);
                tokio::time::sleep(wait.min(ERROR_PAUSE)).await;
            }
        }
    }

    async fn ack(&self, delivery: &Delivery) -> Result<(), TransportError> {
        let read = self.take(delivery)?;
        self.shared
            .lock()
            .offsets
            .settled(read.partition, read.offset, read.generation);
        self.commit_due();
        Ok(())
    }

    async fn retry(
        &self,
        delivery: &Delivery,
        delay: Duration,
        _error: &str,
        charge_attempt: bool,
    ) -> Result<(), TransportError> {
        let mut read = self.take(delivery)?;
        read.attempts = read.attempts.saturating_add(u32::from(charge_attempt));
        read.redeliveries = read.redeliveries.saturating_add(1);
        self.hold(Instant::now() + delay, read);
        Ok(())
    }

    async fn dead_letter(&self, delivery: &Delivery, error: &str) -> Result<(), TransportError> {
        let read = self.take(delivery)?;
        let parked = self
            .sink
            .park(
                read.body.clone(),
                Some(&read.envelope),
                error,
                read.attempts.saturating_add(1),
            )
            .await;
        match parked {
            Ok(()) => {
                self.shared
                    .lock()
                    .offsets
                    .settled(read.partition, read.offset, read.generation);
                self.commit_due();
                Ok(())
            }
            Err(error) => {
                // Handed out again soon, and dead-lettered again once its handling fails.
                self.hold(Instant::now() + PARK_AGAIN_AFTER, read);
                Err(error)
            }
        }
    }
}

/// How long dropping the consumer waits for its last commit: a broker out of reach must not
/// hold a process's stop (what is not committed is replayed into the inbox).
const CLOSING_COMMIT_WAIT: Duration = Duration::from_secs(5);

impl Drop for KafkaQueueConsumer {
    /// Commits what is settled before leaving the group, so a successor does not replay it.
    fn drop(&mut self) {
        let positions = self.shared.lock().offsets.unconfirmed();
        if positions.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for &(partition, position) in &positions {
            let _ = list.add_partition_offset(&self.topic, partition, Offset::Offset(position));
        }
        // A synchronous commit blocks until the broker answers: on a thread of its own, which
        // holds the consumer until it is done, waited for a bounded time.
        let consumer = self.consumer.clone();
        let (done, committed) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("kafka-last-commit".to_owned())
            .spawn(move || {
                let _ = done.send(consumer.commit(&list, CommitMode::Sync));
            });
        if spawned.is_ok() {
            match committed.recv_timeout(CLOSING_COMMIT_WAIT) {
                Ok(Ok(())) => {}
                Ok(Err(error)) => warn!(%error, "the last offset commit failed"),
                Err(_) => warn!("the last offset commit did not finish in time"),
            }
        }
    }
}
