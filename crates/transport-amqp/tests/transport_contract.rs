//! The transport contract suite against RabbitMQ: each test declares a topology under a prefix
//! of its own and deletes it at the end.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use contracts::Queue;
use testkit::amqp::{amqp_url, with_prefix};
use testkit::transport_contract::{self as contract, TransportUnderTest};
use transport::{DeadLetters, Publisher, QueueConsumer};
use transport_amqp::{AmqpSettings, AmqpTransport};

struct Amqp {
    transport: AmqpTransport,
}

#[async_trait]
impl TransportUnderTest for Amqp {
    fn publisher(&self) -> Arc<dyn Publisher> {
        Arc::new(self.transport.clone())
    }

    fn consumer(&self, queue: Queue) -> Arc<dyn QueueConsumer> {
        Arc::new(self.transport.consumer(queue))
    }

    fn dead_letters(&self) -> Arc<dyn DeadLetters> {
        Arc::new(self.transport.clone())
    }

    async fn abandon(&self, consumer: Arc<dyn QueueConsumer>) {
        // Its channel closes with it, and the broker requeues what it held.
        drop(consumer);
    }

    fn deduplicates_publishes(&self) -> bool {
        false
    }
}

async fn check<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn TransportUnderTest>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    with_prefix(|prefix| async move {
        let settings = AmqpSettings {
            prefix,
            retry: contract::retry_policy(),
            prefetch: 8,
            // Consumers declare the retry tiers they need: fewer queues to create per test.
            queues: Vec::new(),
        };
        let transport = AmqpTransport::connect(&amqp_url(), settings)
            .await
            .expect("connect to rabbitmq");
        test(Arc::new(Amqp {
            transport: transport.clone(),
        }))
        .await;
        transport.disconnect().await;
    })
    .await;
}

#[tokio::test]
async fn published_messages_reach_every_subscribing_queue_as_sent() {
    check(contract::published_messages_reach_every_subscribing_queue_as_sent).await;
}

#[tokio::test]
async fn an_acknowledged_message_is_not_delivered_again() {
    check(contract::an_acknowledged_message_is_not_delivered_again).await;
}

#[tokio::test]
async fn each_message_goes_to_one_of_two_competing_consumers() {
    check(contract::each_message_goes_to_one_of_two_competing_consumers).await;
}

#[tokio::test]
async fn an_unsettled_delivery_comes_back_when_its_consumer_is_abandoned() {
    check(contract::an_unsettled_delivery_comes_back_when_its_consumer_is_abandoned).await;
}

#[tokio::test]
async fn a_charged_retry_comes_back_after_its_delay_with_one_more_attempt() {
    check(contract::a_charged_retry_comes_back_after_its_delay_with_one_more_attempt).await;
}

#[tokio::test]
async fn an_uncharged_retry_keeps_the_attempt_count() {
    check(contract::an_uncharged_retry_keeps_the_attempt_count).await;
}

#[tokio::test]
async fn a_dead_letter_is_listed_then_replayed_or_discarded() {
    check(contract::a_dead_letter_is_listed_then_replayed_or_discarded).await;
}

#[tokio::test]
async fn a_batch_published_twice_is_delivered_twice() {
    check(contract::a_batch_published_twice_is_deduplicated_or_delivered_twice).await;
}

#[tokio::test]
async fn a_rejected_message_is_dead_lettered_after_max_attempts_with_growing_delays() {
    check(contract::a_rejected_message_is_dead_lettered_after_max_attempts_with_growing_delays)
        .await;
}

#[tokio::test]
async fn an_unavailable_dependency_is_retried_without_charging_attempts() {
    check(contract::an_unavailable_dependency_is_retried_without_charging_attempts).await;
}
