//! What only the RabbitMQ transport has to show, beyond the contract suite: it recovers from
//! a lost connection without losing a message, puts the expected properties on the wire,
//! parks a body that is not an envelope, refuses a message no queue takes, and declares its
//! topology idempotently. Each test works under a prefix of its own and deletes it at the end.

mod recovery;
mod wire;

use std::time::{Duration, Instant};

use contracts::value::OrderId;
use contracts::{Envelope, Message, Queue, StockReserved};
use testkit::transport_contract::retry_policy;
use time::OffsetDateTime;
use transport::QueueConsumer as _;
use transport_amqp::testing::amqp_url;
use transport_amqp::{AmqpQueueConsumer, AmqpSettings, AmqpTransport};
use uuid::Uuid;

pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

pub(crate) async fn connect(prefix: &str, queues: &[Queue]) -> AmqpTransport {
    let settings = AmqpSettings {
        prefix: prefix.to_owned(),
        retry: retry_policy(),
        prefetch: 8,
        queues: queues.to_vec(),
    };
    AmqpTransport::connect(&amqp_url(), settings)
        .await
        .expect("connect to rabbitmq")
}

pub(crate) fn stock_reserved() -> Envelope {
    let message = Message::from(StockReserved {
        order_id: OrderId::new(Uuid::now_v7()),
    });
    Envelope::build(uuid::Uuid::now_v7(), &message).at(OffsetDateTime::now_utc())
}

/// The next message of `consumer`, calling again after errors (it reconnects on its next call).
pub(crate) async fn receive_one(consumer: &AmqpQueueConsumer) -> transport::Delivery {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match consumer.receive(1).await {
            Ok(mut received) if !received.is_empty() => return received.remove(0),
            Ok(_) => {}
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
        assert!(Instant::now() < deadline, "no message within {PATIENCE:?}");
    }
}
