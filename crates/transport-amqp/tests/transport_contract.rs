//! The transport contract suite against RabbitMQ: each test declares a topology under a prefix
//! of its own and deletes it at the end.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use contracts::Queue;
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
