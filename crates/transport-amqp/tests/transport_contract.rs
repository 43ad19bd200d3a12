//! The transport contract suite against RabbitMQ: each test declares a topology under a prefix
//! of its own and deletes it at the end.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use contracts::Queue;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use testkit::transport_contract::{self as contract, TransportUnderTest};
use transport::{DeadLetters, Publisher, QueueConsumer};
use transport_amqp::testing::{amqp_url, with_prefix};
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

    async fn put_raw(&self, queue: Queue, body: &[u8]) {
        // Straight to the queue through the default exchange, with no envelope headers.
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .expect("connect to rabbitmq");
        let channel = connection.create_channel().await.expect("open a channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("enable confirms");
        let routing_key = self.transport.topology().queue(queue);
        channel
            .basic_publish(
                "".into(),
                routing_key.as_str().into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish a raw body")
            .await
            .expect("the broker confirms the raw body");
        connection.close(200, "done".into()).await.expect("close");
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

testkit::transport_contract_tests!();
