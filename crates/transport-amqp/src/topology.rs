//! The RabbitMQ topology, derived from the routing table in `contracts`: two topic exchanges
//! (events and commands), one durable quorum queue per consuming service bound by message type,
//! a dead-letter queue per consuming queue, and delayed-retry queues without plugins.
//!
//! Delayed retries are TTL queues that dead-letter back into their consuming queue through the
//! default exchange. A queue expires messages only at its head, so one queue per delay would be
//! needed for exact delays; instead each consuming queue has a small ladder of tiers, one per
//! power of two of milliseconds, and a retry waits in the smallest tier at least as long as the
//! delay asked for (never shorter, at most about twice as long).
//!
//! Every process declares every service's queue, dead-letter queue and bindings, whatever it
//! consumes: a message that reaches some of its queues is not returned as unroutable, so a
//! subscriber's queue must exist before anything is published to it, or it would miss the
//! message. Retry tiers are declared for the queues the process consumes, up front for the
//! configured ones and by each consumer before it starts. Declaring is
//! idempotent: every process declares the same names with the same arguments. This module
//! never publishes or consumes.

use std::time::Duration;

use contracts::{Message, Queue, subscribers};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use transport::RetryPolicy;

/// Deliveries a quorum queue allows before the broker dead-letters a message by itself. Only a
/// safety net: the application counts attempts in a header, and a consumer crash counts as a
/// failed delivery for its whole prefetch window.
pub const DELIVERY_LIMIT: i64 = 1000;

/// The longest retry tier: 2^22 ms, about 70 minutes.
const MAX_TIER_EXPONENT: u32 = 22;

/// Whether `message_type` is a command: addressed to exactly one service, the one its name
/// starts with (`inventory.reserve` goes to inventory). An event is named for the service that
/// publishes it (`inventory.reserved` goes to order).
pub fn is_command(message_type: &str) -> bool {
    let Some((service, _)) = message_type.split_once('.') else {
        return false;
    };
    matches!(subscribers(message_type), [queue] if queue.name() == service)
}

/// Every name the transport declares for one prefix and set of consuming queues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    queues: Vec<Queue>,
    tiers: Vec<u64>,
}

impl Topology {
    /// The topology of a process consuming `queues`, with retry tiers covering every delay
    /// `retry` can ask for.
    pub fn new(prefix: &str, queues: &[Queue], retry: &RetryPolicy) -> Self {
        let mut unique = Vec::with_capacity(queues.len());
        for queue in queues {
            if !unique.contains(queue) {
                unique.push(*queue);
            }
        }
        Self {
            prefix: prefix.to_owned(),
            queues: unique,
            tiers: retry_tiers(retry),
        }
    }

    /// The prefix of every name.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The queues whose retry tiers are declared up front (a consumer declares its own).
    pub fn queues(&self) -> &[Queue] {
        &self.queues
    }

    /// The retry tiers in milliseconds, shortest first.
    pub fn retry_tiers(&self) -> &[u64] {
        &self.tiers
    }

    /// `<prefix>orderflow.events`: the topic exchange for events.
    pub fn events_exchange(&self) -> String {
        format!("{}orderflow.events", self.prefix)
    }

    /// `<prefix>orderflow.commands`: the topic exchange for commands.
    pub fn commands_exchange(&self) -> String {
        format!("{}orderflow.commands", self.prefix)
    }

    /// The exchange a message of `message_type` is published to.
    pub fn exchange_for(&self, message_type: &str) -> String {
        if is_command(message_type) {
            self.commands_exchange()
        } else {
            self.events_exchange()
        }
    }

    /// `<prefix>orderflow.<queue>`: the consuming queue of a service.
    pub fn queue(&self, queue: Queue) -> String {
        queue_name(&self.prefix, queue)
    }

    /// `<prefix>orderflow.<queue>.dlq`: where the queue's poison messages are parked.
    pub fn dead_letter_queue(&self, queue: Queue) -> String {
        format!("{}.dlq", self.queue(queue))
    }

    /// `<prefix>orderflow.<queue>.retry.<ms>`: a retry tier of the queue.
    pub fn retry_queue(&self, queue: Queue, tier_ms: u64) -> String {
        retry_queue_name(&self.prefix, queue, tier_ms)
    }

    /// The retry tier that waits at least `delay` (the longest one if none does); `None` for
    /// no delay at all, which goes straight back to the consuming queue.
    pub fn tier_for(&self, delay: Duration) -> Option<u64> {
        if delay.is_zero() {
            return None;
        }
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.tiers
            .iter()
            .copied()
            .find(|tier| *tier >= millis)
            .or_else(|| self.tiers.last().copied())
    }

    /// Both exchanges.
    pub fn exchange_names(&self) -> Vec<String> {
        vec![self.events_exchange(), self.commands_exchange()]
    }

    /// Every queue declared: each service's queue and dead-letter queue, and the retry tiers
    /// of the queues consumed.
    pub fn queue_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for queue in Queue::ALL {
            names.push(self.queue(queue));
            names.push(self.dead_letter_queue(queue));
        }
        for queue in &self.queues {
            for tier in &self.tiers {
                names.push(self.retry_queue(*queue, *tier));
            }
        }
        names
    }

    /// Every queue name any topology with `prefix` may have declared, whatever its queues
    /// and retry policy: for tearing a prefix down without knowing how it was set up.
    pub fn every_possible_queue_name(prefix: &str) -> Vec<String> {
        let mut names = Vec::new();
        for queue in Queue::ALL {
            names.push(queue_name(prefix, queue));
            names.push(format!("{}.dlq", queue_name(prefix, queue)));
            for exponent in 0..=MAX_TIER_EXPONENT {
                names.push(retry_queue_name(prefix, queue, 1 << exponent));
            }
        }
        names
    }

    /// Declares every exchange, queue and binding; changes nothing that exists already.
    ///
    /// # Errors
    /// When the broker refuses a declaration (then it also closes `channel`), for instance
    /// because a queue exists with other arguments.
    pub(crate) async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        let durable_exchange = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        for exchange in self.exchange_names() {
            channel
                .exchange_declare(
                    exchange.into(),
                    ExchangeKind::Topic,
                    durable_exchange,
                    FieldTable::default(),
                )
                .await?;
        }
        for queue in Queue::ALL {
            let name = self.queue(queue);
            let dead_letters = self.dead_letter_queue(queue);
            declare_queue(channel, &dead_letters, quorum()).await?;
            // Past the safety net, the broker parks a message in the dead-letter queue
            // rather than dropping it.
            let mut arguments = dead_lettering_to(&dead_letters);
            arguments.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(DELIVERY_LIMIT),
            );
            declare_queue(channel, &name, arguments).await?;
            for (message_type, _) in Message::TYPES {
                if subscribers(message_type).contains(&queue) {
                    channel
                        .queue_bind(
                            name.clone().into(),
                            self.exchange_for(message_type).into(),
                            (*message_type).into(),
                            QueueBindOptions::default(),
                            FieldTable::default(),
                        )
                        .await?;
                }
            }
        }
        for queue in &self.queues {
            self.declare_retry_tiers(channel, *queue).await?;
        }
        Ok(())
    }

    /// Declares the retry tiers of `queue`; a consumer does before it consumes, so its
    /// retries always have somewhere to wait.
    ///
    /// # Errors
    /// When the broker refuses a declaration (then it also closes `channel`).
    pub(crate) async fn declare_retry_tiers(
        &self,
        channel: &Channel,
        queue: Queue,
    ) -> lapin::Result<()> {
        for tier in &self.tiers {
            let mut arguments = dead_lettering_to(&self.queue(queue));
            let ttl = i64::try_from(*tier).unwrap_or(i64::MAX);
            arguments.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ttl));
            declare_queue(channel, &self.retry_queue(queue, *tier), arguments).await?;
        }
        Ok(())
    }
}

fn queue_name(prefix: &str, queue: Queue) -> String {
    format!("{prefix}orderflow.{}", queue.name())
}

fn retry_queue_name(prefix: &str, queue: Queue, tier_ms: u64) -> String {
    format!("{}.retry.{tier_ms}", queue_name(prefix, queue))
}

/// Powers of two of milliseconds from the policy's first delay up to twice its longest one
/// (jitter may add up to one more delay on top of the cap).
fn retry_tiers(retry: &RetryPolicy) -> Vec<u64> {
    let millis = |delay: Duration| u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
    let ceiling = 1u64 << MAX_TIER_EXPONENT;
    let shortest = millis(retry.initial_delay)
        .max(1)
        .checked_next_power_of_two()
        .unwrap_or(ceiling)
        .min(ceiling);
    let longest = millis(retry.max_delay)
        .saturating_mul(2)
        .max(shortest)
        .checked_next_power_of_two()
        .unwrap_or(ceiling)
        .min(ceiling);
    let mut tiers = Vec::new();
    let mut tier = shortest;
    while tier <= longest {
        tiers.push(tier);
        tier *= 2;
    }
    tiers
}

fn quorum() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    arguments
}

/// A quorum queue that dead-letters into `target` through the default exchange, at least once:
/// the broker keeps the message until `target` has confirmed it.
fn dead_lettering_to(target: &str) -> FieldTable {
    let mut arguments = quorum();
    let text = |value: &str| AMQPValue::LongString(LongString::from(value));
    arguments.insert("x-dead-letter-exchange".into(), text(""));
    arguments.insert("x-dead-letter-routing-key".into(), text(target));
    arguments.insert("x-dead-letter-strategy".into(), text("at-least-once"));
    // At-least-once dead-lettering requires it; without a length limit it never rejects.
    arguments.insert("x-overflow".into(), text("reject-publish"));
    arguments
}

async fn declare_queue(channel: &Channel, name: &str, arguments: FieldTable) -> lapin::Result<()> {
    channel
        .queue_declare(
            ShortString::from(name),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(initial_ms: u64, max_ms: u64) -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            initial_delay: Duration::from_millis(initial_ms),
            max_delay: Duration::from_millis(max_ms),
        }
    }

    #[test]
    fn the_commands_are_exactly_the_four_requests_to_inventory_and_payment() {
        let commands: Vec<&str> = Message::TYPES
            .iter()
            .map(|(message_type, _)| *message_type)
            .filter(|message_type| is_command(message_type))
            .collect();
        assert_eq!(
            commands,
            [
                "inventory.reserve",
                "inventory.release",
                "payment.charge",
                "payment.refund"
            ]
        );
    }

    #[test]
    fn retry_tiers_are_powers_of_two_covering_the_jittered_cap() {
        assert_eq!(retry_tiers(&policy(100, 800)), [128, 256, 512, 1024, 2048]);
        let default = retry_tiers(&RetryPolicy::default());
        assert_eq!(default.first(), Some(&256));
        assert_eq!(default.last(), Some(&65_536));
    }

    #[test]
    fn a_delay_waits_in_the_smallest_tier_at_least_as_long() {
        let topology = Topology::new("", &[Queue::Order], &policy(100, 800));
        assert_eq!(topology.tier_for(Duration::ZERO), None);
        assert_eq!(topology.tier_for(Duration::from_millis(1)), Some(128));
        assert_eq!(topology.tier_for(Duration::from_millis(128)), Some(128));
        assert_eq!(topology.tier_for(Duration::from_millis(129)), Some(256));
        assert_eq!(topology.tier_for(Duration::from_secs(60)), Some(2048));
    }

    #[test]
    fn names_carry_the_prefix() {
        let topology = Topology::new("test-1.", &[Queue::Payment], &policy(100, 100));
        assert_eq!(topology.events_exchange(), "test-1.orderflow.events");
        assert_eq!(
            topology.exchange_for("payment.charge"),
            "test-1.orderflow.commands"
        );
        assert_eq!(
            topology.exchange_for("payment.succeeded"),
            "test-1.orderflow.events"
        );
        let names = topology.queue_names();
        assert_eq!(names.len(), 2 * Queue::ALL.len() + 2);
        assert!(names.contains(&"test-1.orderflow.order".to_owned()));
        assert!(names.contains(&"test-1.orderflow.order.dlq".to_owned()));
        assert!(names.ends_with(&[
            "test-1.orderflow.payment.retry.128".to_owned(),
            "test-1.orderflow.payment.retry.256".to_owned(),
        ]));
        let every = Topology::every_possible_queue_name("test-1.");
        assert!(
            topology
                .queue_names()
                .iter()
                .all(|name| every.contains(name))
        );
    }
}
