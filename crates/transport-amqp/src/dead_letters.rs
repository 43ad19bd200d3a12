//! The dead-letter store on RabbitMQ: one dead-letter queue per consuming queue, read without
//! consuming. Every service's dead-letter queue is declared by every process, so any process
//! (the gateway's admin API, the CLI) lists, replays and discards them all.
//!
//! A scan takes the messages of a dead-letter queue one by one (`basic.get`, unacknowledged)
//! on a channel of its own, acks the one it replays or discards, and closes the channel, which
//! returns every other message to the queue. A scan therefore hides the messages it holds from
//! another scan running at the same time; listing is an operator's tool, not a hot path.
//!
//! A dead letter's id is `<queue>:<message_id>`. A message dead-lettered twice (RabbitMQ may
//! deliver a message twice) is listed twice under one id; replay and discard take one copy
//! at a time.

use async_trait::async_trait;
use contracts::{Envelope, Queue};
use lapin::Channel;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use time::OffsetDateTime;
use tracing::debug;
use transport::{DeadLetter, DeadLetters, TransportError};
use uuid::Uuid;

use crate::consumer::now_ms;
use crate::error::unavailable;
use crate::headers::{self, ATTEMPTS, DEAD_LETTERED_AT, ERROR};
use crate::publisher::{Outgoing, publish_confirmed};
use crate::session::{Session, within};
use crate::transport::AmqpTransport;

/// A scan stops here: a dead-letter queue this long needs another tool than a list.
const MAX_SCANNED: usize = 100_000;

/// Holds the messages of one dead-letter queue until closed.
struct Scan {
    channel: Channel,
    queue_name: String,
    taken: usize,
}

impl Scan {
    async fn open(session: &Session, queue_name: String) -> Result<Self, TransportError> {
        Ok(Self {
            channel: session.open_channel().await?,
            queue_name,
            taken: 0,
        })
    }

    /// The next message, held unacknowledged; `None` when the queue has no more.
    async fn next(&mut self) -> Result<Option<BasicGetMessage>, TransportError> {
        if self.taken >= MAX_SCANNED {
            return Ok(None);
        }
        let message = within(
            "read a dead-letter queue",
            self.channel.basic_get(
                self.queue_name.as_str().into(),
                BasicGetOptions { no_ack: false },
            ),
        )
        .await?;
        self.taken += 1;
        Ok(message)
    }

    /// The first message with `message_id`, held unacknowledged.
    async fn find(&mut self, message_id: &str) -> Result<Option<BasicGetMessage>, TransportError> {
        while let Some(message) = self.next().await? {
            if message_id_of(&message).as_deref() == Some(message_id) {
                return Ok(Some(message));
            }
        }
        Ok(None)
    }

    /// Returns every message held and not acked to the queue.
    async fn close(self) {
        if let Err(error) = within(
            "close a dead-letter scan",
            self.channel.close(200, "scan done".into()),
        )
        .await
        {
            // A channel that died returns its messages as well.
            debug!(
                error = format!("{:#}", anyhow::Error::new(error)),
                "cannot close a dead-letter scan"
            );
        }
    }
}

fn message_id_of(message: &BasicGetMessage) -> Option<String> {
    message
        .delivery
        .properties
        .message_id()
        .as_ref()
        .map(|id| id.as_str().to_owned())
}

fn parse_id(id: &str) -> Option<(Queue, &str)> {
    let (queue, message_id) = id.split_once(':')?;
    Some((Queue::from_name(queue)?, message_id))
}

/// Reads a parked message; a body that is not an envelope (parked for that reason) is shown
/// as a placeholder envelope carrying the raw body as a string.
fn to_dead_letter(queue: Queue, message: &BasicGetMessage) -> DeadLetter {
    let properties = &message.delivery.properties;
    let dead_lettered_at = headers::read_number(properties, DEAD_LETTERED_AT)
        .and_then(|ms| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok())
        .or_else(|| {
            properties
                .timestamp()
                .and_then(|seconds| i64::try_from(seconds).ok())
                .and_then(|seconds| OffsetDateTime::from_unix_timestamp(seconds).ok())
        })
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let envelope =
        serde_json::from_slice::<Envelope>(&message.delivery.data).unwrap_or_else(|_| {
            DeadLetter::undecodable_body(
                &message.delivery.data,
                message_id_of(message).and_then(|id| Uuid::parse_str(&id).ok()),
                properties
                    .kind()
                    .as_ref()
                    .map(|kind| kind.as_str().to_owned()),
                dead_lettered_at,
            )
        });
    let error = headers::read_text(properties, ERROR)
        .or_else(|| {
            headers::broker_death_reason(properties)
                .map(|reason| format!("dead-lettered by the broker: {reason}"))
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let message_id = message_id_of(message).unwrap_or_else(|| envelope.message_id.to_string());
    DeadLetter {
        id: format!("{}:{message_id}", queue.name()),
        queue,
        envelope,
        error,
        attempts: headers::read_count(properties, ATTEMPTS),
        dead_lettered_at,
    }
}

impl AmqpTransport {
    /// Parks a message that reached `queue`'s consumer by another way than this broker (the
    /// analytics stream read from Kafka) in `queue`'s dead-letter queue, where every other dead
    /// letter of that queue is listed, replayed (onto `queue`) and discarded. `body` is kept
    /// byte for byte; `envelope` (when the body is one) names it, else a fresh id does.
    ///
    /// # Errors
    /// [`TransportError`] when the copy is not confirmed: nothing was parked.
    pub async fn park(
        &self,
        queue: Queue,
        body: Vec<u8>,
        envelope: Option<&Envelope>,
        error: &str,
        attempts: u32,
    ) -> Result<(), TransportError> {
        let mut properties = match envelope {
            Some(envelope) => headers::for_envelope(envelope),
            None => lapin::BasicProperties::default()
                .with_delivery_mode(2)
                .with_message_id(Uuid::now_v7().to_string().into()),
        };
        properties = headers::copy_with(
            &properties,
            &[
                (ERROR, Some(headers::error_text(error))),
                (ATTEMPTS, Some(headers::number(i64::from(attempts)))),
                (DEAD_LETTERED_AT, Some(headers::number(now_ms()))),
            ],
        );
        let copy = Outgoing {
            exchange: String::new(),
            routing_key: self.topology().dead_letter_queue(queue),
            body,
            properties,
        };
        let session = self.session().await?;
        publish_confirmed(session.publisher(), std::slice::from_ref(&copy)).await
    }

    /// Takes the parked message `id` out of its dead-letter queue, once republished to its
    /// queue when `replay`; `false` when no such message is parked.
    async fn take_dead_letter(&self, id: &str, replay: bool) -> Result<bool, TransportError> {
        let Some((queue, message_id)) = parse_id(id) else {
            return Ok(false);
        };
        let session = self.session().await?;
        let mut scan = Scan::open(&session, self.topology().dead_letter_queue(queue)).await?;
        let outcome = self
            .settle_dead_letter(&session, &mut scan, queue, message_id, replay)
            .await;
        scan.close().await;
        outcome
    }

    async fn settle_dead_letter(
        &self,
        session: &Session,
        scan: &mut Scan,
        queue: Queue,
        message_id: &str,
        replay: bool,
    ) -> Result<bool, TransportError> {
        let Some(message) = scan.find(message_id).await? else {
            return Ok(false);
        };
        if replay {
            // The same message id: a dead letter was never handled, so no inbox knows it.
            let copy = Outgoing {
                exchange: String::new(),
                routing_key: self.topology().queue(queue),
                body: message.delivery.data.clone(),
                properties: headers::copy_with(&message.delivery.properties, &headers::reset()),
            };
            publish_confirmed(session.publisher(), std::slice::from_ref(&copy)).await?;
        }
        let acked = within(
            "remove a dead letter",
            message.delivery.acker.ack(BasicAckOptions::default()),
        )
        .await?;
        if acked {
            Ok(true)
        } else {
            Err(unavailable(
                "cannot remove the dead letter: its channel closed",
            ))
        }
    }
}

#[async_trait]
impl DeadLetters for AmqpTransport {
    async fn list(&self) -> Result<Vec<DeadLetter>, TransportError> {
        let session = self.session().await?;
        let mut all = Vec::new();
        for queue in Queue::ALL {
            let mut scan = Scan::open(&session, self.topology().dead_letter_queue(queue)).await?;
            let mut read = Ok(());
            loop {
                match scan.next().await {
                    Ok(Some(message)) => all.push(to_dead_letter(queue, &message)),
                    Ok(None) => break,
                    Err(error) => {
                        read = Err(error);
                        break;
                    }
                }
            }
            scan.close().await;
            read?;
        }
        all.sort_by_key(|dead_letter| dead_letter.dead_lettered_at);
        Ok(all)
    }

    async fn replay(&self, id: &str) -> Result<bool, TransportError> {
        self.take_dead_letter(id, true).await
    }

    async fn discard(&self, id: &str) -> Result<bool, TransportError> {
        self.take_dead_letter(id, false).await
    }
}
