//! Routing, acknowledgement, competing consumers and redelivery.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use contracts::{Envelope, Queue};
use uuid::Uuid;

use super::{
    PATIENCE, TransportUnderTest, assert_stays_empty, charge_payment, order_completed, publish,
    receive_one, receive_up_to, stock_reserved,
};

/// Every queue that subscribes to a type receives the message as it was published; a queue
/// that does not, nothing.
pub async fn published_messages_reach_every_subscribing_queue_as_sent(
    transport: Arc<dyn TransportUnderTest>,
) {
    let event = order_completed();
    let command = charge_payment();
    publish(transport.as_ref(), &[event.clone(), command.clone()]).await;

    for queue in [Queue::Inventory, Queue::Notification, Queue::Query] {
        let consumer = transport.consumer(queue);
        let delivery = receive_one(consumer.as_ref()).await;
        assert_eq!(delivery.envelope, event, "{queue:?} gets the event as sent");
        assert_eq!(delivery.attempts, 0);
        assert_eq!(delivery.redeliveries, 0);
        consumer.ack(&delivery).await.expect("ack");
    }
    let payment = transport.consumer(Queue::Payment);
    let delivery = receive_one(payment.as_ref()).await;
    assert_eq!(
        delivery.envelope, command,
        "payment gets the command as sent"
    );
    payment.ack(&delivery).await.expect("ack");

    assert_stays_empty(transport.consumer(Queue::Order).as_ref()).await;
}

/// An acknowledged message is gone, even for a consumer that starts afterwards.
pub async fn an_acknowledged_message_is_not_delivered_again(
    transport: Arc<dyn TransportUnderTest>,
) {
    publish(transport.as_ref(), &[stock_reserved()]).await;
    let first = transport.consumer(Queue::Order);
    let delivery = receive_one(first.as_ref()).await;
    first.ack(&delivery).await.expect("ack");
    transport.abandon(first).await;

    assert_stays_empty(transport.consumer(Queue::Order).as_ref()).await;
}

/// A consumer asking for a batch larger than its transport's usual window gets it whole
/// without settling any of it first, and acknowledging the batch at once removes every
/// message of it.
pub async fn a_batch_received_whole_and_acknowledged_together_is_not_delivered_again(
    transport: Arc<dyn TransportUnderTest>,
) {
    let batch: Vec<Envelope> = (0..40).map(|_| stock_reserved()).collect();
    publish(transport.as_ref(), &batch).await;
    let first = transport.consumer(Queue::Order);
    let deliveries = receive_up_to(first.as_ref(), batch.len(), PATIENCE).await;
    let received: HashSet<Uuid> = deliveries.iter().map(|d| d.envelope.message_id).collect();
    let published: HashSet<Uuid> = batch.iter().map(|envelope| envelope.message_id).collect();
    assert_eq!(
        deliveries.len(),
        batch.len(),
        "the whole batch arrives before any of it is settled"
    );
    assert_eq!(received, published);
    first.ack_all(&deliveries).await.expect("ack them all");
    transport.abandon(first).await;

    assert_stays_empty(transport.consumer(Queue::Order).as_ref()).await;
}

/// Competing consumers share a queue's messages: each message goes to one of them.
pub async fn each_message_goes_to_one_of_two_competing_consumers(
    transport: Arc<dyn TransportUnderTest>,
) {
    let batch: Vec<Envelope> = (0..10).map(|_| stock_reserved()).collect();
    publish(transport.as_ref(), &batch).await;
    let consumers = [
        transport.consumer(Queue::Order),
        transport.consumer(Queue::Order),
    ];
    let mut seen: [Vec<Uuid>; 2] = [Vec::new(), Vec::new()];
    let deadline = Instant::now() + PATIENCE;
    while seen[0].len() + seen[1].len() < batch.len() && Instant::now() < deadline {
        for (consumer, seen) in consumers.iter().zip(seen.iter_mut()) {
            for delivery in consumer.receive(3).await.expect("receive") {
                seen.push(delivery.envelope.message_id);
                consumer.ack(&delivery).await.expect("ack");
            }
        }
    }

    let all: Vec<Uuid> = seen.concat();
    let unique: HashSet<Uuid> = all.iter().copied().collect();
    let published: HashSet<Uuid> = batch.iter().map(|envelope| envelope.message_id).collect();
    assert_eq!(all.len(), unique.len(), "no message is delivered twice");
    assert_eq!(unique, published, "every message is delivered");
    for consumer in &consumers {
        assert_stays_empty(consumer.as_ref()).await;
    }
}

/// A message received and never settled comes back once its consumer is gone, with no
/// attempt charged.
pub async fn an_unsettled_delivery_comes_back_when_its_consumer_is_abandoned(
    transport: Arc<dyn TransportUnderTest>,
) {
    let envelope = stock_reserved();
    publish(transport.as_ref(), std::slice::from_ref(&envelope)).await;
    let crashed = transport.consumer(Queue::Order);
    let delivery = receive_one(crashed.as_ref()).await;
    assert_eq!(delivery.envelope, envelope);
    transport.abandon(crashed).await;

    let survivor = transport.consumer(Queue::Order);
    let again = receive_one(survivor.as_ref()).await;
    assert_eq!(again.envelope, envelope);
    assert_eq!(again.attempts, 0, "a crash is not the message's fault");
    assert!(
        again.redeliveries >= 1,
        "the redelivery is counted: {again:?}"
    );
    survivor.ack(&again).await.expect("ack");
}

/// Publishing a batch twice (a relay that crashed before marking it sent) is deduplicated by
/// the SQL queue and delivered twice by RabbitMQ; never lost, never more than twice.
pub async fn a_batch_published_twice_is_deduplicated_or_delivered_twice(
    transport: Arc<dyn TransportUnderTest>,
) {
    let envelope = stock_reserved();
    publish(transport.as_ref(), std::slice::from_ref(&envelope)).await;
    publish(transport.as_ref(), std::slice::from_ref(&envelope)).await;
    let consumer = transport.consumer(Queue::Order);
    let expected = if transport.deduplicates_publishes() {
        1
    } else {
        2
    };
    let deliveries = receive_up_to(consumer.as_ref(), expected, PATIENCE).await;
    assert_eq!(deliveries.len(), expected);
    for delivery in &deliveries {
        assert_eq!(delivery.envelope, envelope);
        consumer.ack(delivery).await.expect("ack");
    }
    assert_stays_empty(consumer.as_ref()).await;
}
