//! The transport contract suite: what every transport (the embedded SQL queue, RabbitMQ) must
//! do, as generic async functions over the ports, so both adapters run the very same checks.
//!
//! Each function checks one behaviour on a transport of its own (fresh databases, or a fresh
//! broker prefix) and panics with what was expected when the adapter misbehaves. Timing is
//! checked only from below ("not before the delay"), with slack: a transport may be late,
//! never early.
//!
//! One difference is part of the contract rather than hidden by it: the SQL queue ignores a
//! message it already holds, so a relay that publishes a batch twice changes nothing, while
//! RabbitMQ delivers it twice and the consumers' inboxes absorb the repeat.

mod dead_letters;
mod delivery;
mod poison;
mod retries;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contracts::value::{Email, OrderId};
use contracts::{ChargePayment, Envelope, Message, OrderCompleted, Queue, StockReserved};
use time::OffsetDateTime;
use transport::{DeadLetters, Delivery, Publisher, QueueConsumer, RetryPolicy};
use uuid::Uuid;

pub use dead_letters::a_dead_letter_is_listed_then_replayed_or_discarded;
pub use delivery::{
    a_batch_published_twice_is_deduplicated_or_delivered_twice,
    a_batch_received_whole_and_acknowledged_together_is_not_delivered_again,
    an_acknowledged_message_is_not_delivered_again,
    an_unsettled_delivery_comes_back_when_its_consumer_is_abandoned,
    each_message_goes_to_one_of_two_competing_consumers,
    published_messages_reach_every_subscribing_queue_as_sent,
};
pub use poison::{
    a_body_that_is_not_an_envelope_is_parked_at_once_without_holding_back_others,
    every_shape_of_poison_is_dead_lettered_with_its_cause_and_healthy_messages_pass,
};
pub use retries::{
    a_charged_retry_comes_back_after_its_delay_with_one_more_attempt,
    a_rejected_message_is_dead_lettered_after_max_attempts_with_growing_delays,
    an_unavailable_dependency_is_retried_without_charging_attempts,
    an_uncharged_retry_keeps_the_attempt_count,
};

/// A transport under test, with what the suite needs to drive it.
#[async_trait]
pub trait TransportUnderTest: Send + Sync {
    fn publisher(&self) -> Arc<dyn Publisher>;

    /// A new consumer of `queue`, competing with the others.
    fn consumer(&self, queue: Queue) -> Arc<dyn QueueConsumer>;

    fn dead_letters(&self) -> Arc<dyn DeadLetters>;

    /// Makes what `consumer` received and did not settle deliverable again, as its crash would:
    /// RabbitMQ closes its channel; the SQL queue releases stale leases, as a restart does.
    async fn abandon(&self, consumer: Arc<dyn QueueConsumer>);

    /// Puts `body` on `queue` as it is, bypassing the publisher: what a broken producer, a
    /// manual insert or a corrupted row would leave there.
    async fn put_raw(&self, queue: Queue, body: &[u8]);

    /// Whether publishing a message that is already queued changes nothing.
    fn deduplicates_publishes(&self) -> bool;
}

/// The retry policy the suite's consumer loops use; a transport that sizes anything for its
/// retry policy (RabbitMQ's retry tiers) must be set up with it.
pub fn retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        initial_delay: Duration::from_millis(100),
        max_delay: Duration::from_millis(800),
    }
}

/// How long a message that should come may take.
const PATIENCE: Duration = Duration::from_secs(15);
/// How long to watch a queue that should stay empty.
const QUIET: Duration = Duration::from_millis(600);
/// Clocks and timers may round a little: a delay is checked as at least this much shorter.
const SLACK: Duration = Duration::from_millis(25);

fn order_completed() -> Envelope {
    let message = Message::from(OrderCompleted {
        order_id: OrderId::new(Uuid::now_v7()),
        customer_email: Email::parse("ada@example.com").expect("a valid email"),
        items: Vec::new(),
        total_minor: 12_999,
        currency: "USD".to_owned(),
        completed_at: OffsetDateTime::now_utc(),
    });
    Envelope::build(uuid::Uuid::now_v7(), &message)
        .traceparent(Some(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned(),
        ))
        .at(OffsetDateTime::now_utc())
}

fn charge_payment() -> Envelope {
    let message = Message::from(ChargePayment {
        order_id: OrderId::new(Uuid::now_v7()),
        amount_minor: 4_200,
        currency: "EUR".to_owned(),
        payment_token: "tok_visa".to_owned(),
    });
    Envelope::build(uuid::Uuid::now_v7(), &message).at(OffsetDateTime::now_utc())
}

/// A message for the order queue only.
fn stock_reserved() -> Envelope {
    let message = Message::from(StockReserved {
        order_id: OrderId::new(Uuid::now_v7()),
    });
    Envelope::build(uuid::Uuid::now_v7(), &message).at(OffsetDateTime::now_utc())
}

async fn publish(transport: &dyn TransportUnderTest, batch: &[Envelope]) {
    transport
        .publisher()
        .publish(batch)
        .await
        .expect("the transport accepts the batch");
}

/// Receives until `count` deliveries came or `patience` passed.
async fn receive_up_to(
    consumer: &dyn QueueConsumer,
    count: usize,
    patience: Duration,
) -> Vec<Delivery> {
    let deadline = Instant::now() + patience;
    let mut deliveries = Vec::new();
    while deliveries.len() < count {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let received = consumer
            .receive(count - deliveries.len())
            .await
            .expect("the queue can be read");
        if received.is_empty() {
            let wait = (deadline - now).min(Duration::from_millis(200));
            consumer.wait_for_messages(wait).await;
        }
        deliveries.extend(received);
    }
    deliveries
}

async fn receive_one(consumer: &dyn QueueConsumer) -> Delivery {
    let mut deliveries = receive_up_to(consumer, 1, PATIENCE).await;
    assert_eq!(
        deliveries.len(),
        1,
        "a message should reach {:?} within {PATIENCE:?}",
        consumer.queue()
    );
    deliveries.remove(0)
}

async fn assert_stays_empty(consumer: &dyn QueueConsumer) {
    let deliveries = receive_up_to(consumer, 1, QUIET).await;
    let types: Vec<_> = deliveries
        .iter()
        .map(|delivery| delivery.envelope.message_type.as_str())
        .collect();
    assert!(
        deliveries.is_empty(),
        "{:?} should receive nothing, got {types:?}",
        consumer.queue()
    );
}

/// Declares one `#[tokio::test]` per transport contract check, named after it, each running
/// `check(transport_contract::<check>)` with the calling test file's `check` function (which
/// sets up the transport under test). The list lives here once, so every adapter runs every
/// check.
#[macro_export]
macro_rules! transport_contract_tests {
    () => {
        $crate::transport_contract_tests! {
            published_messages_reach_every_subscribing_queue_as_sent;
            an_acknowledged_message_is_not_delivered_again;
            a_batch_received_whole_and_acknowledged_together_is_not_delivered_again;
            each_message_goes_to_one_of_two_competing_consumers;
            an_unsettled_delivery_comes_back_when_its_consumer_is_abandoned;
            a_charged_retry_comes_back_after_its_delay_with_one_more_attempt;
            an_uncharged_retry_keeps_the_attempt_count;
            a_dead_letter_is_listed_then_replayed_or_discarded;
            a_batch_published_twice_is_deduplicated_or_delivered_twice;
            a_rejected_message_is_dead_lettered_after_max_attempts_with_growing_delays;
            an_unavailable_dependency_is_retried_without_charging_attempts;
            a_body_that_is_not_an_envelope_is_parked_at_once_without_holding_back_others;
            every_shape_of_poison_is_dead_lettered_with_its_cause_and_healthy_messages_pass;
        }
    };
    ($($check:ident;)*) => {$(
        #[tokio::test]
        async fn $check() {
            check($crate::transport_contract::$check).await;
        }
    )*};
}
