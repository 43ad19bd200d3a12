//! What goes on the wire, and what the broker refuses.

use std::time::{Duration, Instant};

use contracts::value::OrderId;
use contracts::{Envelope, Message, Queue, StockReserved};
use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeleteOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use time::OffsetDateTime;
use transport::{DeadLetters as _, Publisher as _, QueueConsumer as _};
use transport_amqp::testing::{amqp_url, with_prefix};
use uuid::Uuid;

use crate::{PATIENCE, connect, receive_one, stock_reserved};

#[tokio::test]
async fn a_published_message_is_persistent_json_with_its_id_type_and_trace() {
    with_prefix(|prefix| async move {
        let transport = connect(&prefix, &[Queue::Order]).await;
        let message = Message::from(StockReserved {
            order_id: OrderId::new(Uuid::now_v7()),
        });
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let envelope = Envelope::build(uuid::Uuid::now_v7(), &message)
            .traceparent(Some(traceparent.to_owned()))
            .at(OffsetDateTime::now_utc());
        transport
            .publish(std::slice::from_ref(&envelope))
            .await
            .expect("publish");

        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        let deadline = Instant::now() + PATIENCE;
        let raw = loop {
            let got = channel
                .basic_get(
                    transport.topology().queue(Queue::Order).into(),
                    BasicGetOptions { no_ack: true },
                )
                .await
                .expect("get");
            if let Some(raw) = got {
                break raw;
            }
            assert!(Instant::now() < deadline, "the message never arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        connection.close(200, "done".into()).await.expect("close");

        let properties = &raw.delivery.properties;
        assert_eq!(
            serde_json::from_slice::<Envelope>(&raw.delivery.data).expect("a JSON envelope"),
            envelope
        );
        assert_eq!(
            properties.content_type().as_ref().map(ShortString::as_str),
            Some("application/json")
        );
        assert_eq!(properties.delivery_mode(), &Some(2), "persistent");
        assert_eq!(
            properties.message_id().as_ref().map(ShortString::as_str),
            Some(envelope.message_id.to_string().as_str())
        );
        assert_eq!(
            properties.kind().as_ref().map(ShortString::as_str),
            Some("inventory.reserved")
        );
        assert_eq!(
            raw.delivery.exchange.as_str(),
            transport.topology().events_exchange()
        );
        let header = properties
            .headers()
            .as_ref()
            .and_then(|headers| headers.inner().get("traceparent"))
            .and_then(|value| value.as_long_string())
            .map(ToString::to_string);
        assert_eq!(header.as_deref(), Some(traceparent));
    })
    .await;
}

#[tokio::test]
async fn a_body_that_is_not_an_envelope_is_parked_with_its_error() {
    with_prefix(|prefix| async move {
        let transport = connect(&prefix, &[Queue::Order]).await;
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .basic_publish(
                "".into(),
                transport.topology().queue(Queue::Order).into(),
                BasicPublishOptions::default(),
                b"{not json",
                BasicProperties::default().with_message_id("garbage-1".into()),
            )
            .await
            .expect("publish")
            .await
            .expect("sent");
        connection.close(200, "done".into()).await.expect("close");

        let consumer = transport.consumer(Queue::Order);
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            let received = consumer.receive(8).await.expect("receive");
            assert!(received.is_empty(), "garbage is never handed out");
        }
        let parked = transport.list().await.expect("list");
        assert_eq!(parked.len(), 1, "{parked:?}");
        assert_eq!(parked[0].id, "order:garbage-1");
        assert!(
            parked[0].error.contains("cannot decode the envelope"),
            "{}",
            parked[0].error
        );
        assert_eq!(parked[0].attempts, 1);
        assert_eq!(
            parked[0].envelope.payload,
            serde_json::Value::String("{not json".to_owned())
        );
        assert!(transport.discard("order:garbage-1").await.expect("discard"));
    })
    .await;
}

#[tokio::test]
async fn a_message_no_queue_takes_is_not_confirmed() {
    with_prefix(|prefix| async move {
        let transport = connect(&prefix, &[Queue::Order]).await;
        let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .expect("connect");
        let channel = connection.create_channel().await.expect("channel");
        // `inventory.reserved` goes to the order service and the analytics stream.
        for queue in contracts::subscribers("inventory.reserved") {
            channel
                .queue_delete(
                    transport.topology().queue(*queue).into(),
                    QueueDeleteOptions::default(),
                )
                .await
                .expect("delete a subscriber's queue");
        }
        connection.close(200, "done".into()).await.expect("close");

        let published = transport.publish(&[stock_reserved()]).await;
        assert!(published.is_err(), "an unroutable message is an error");
        // The transport is still usable for routable messages.
        let placed = connect(&prefix, &[Queue::Order]).await;
        placed
            .publish(&[stock_reserved()])
            .await
            .expect("publishing works once the queue is declared again");
    })
    .await;
}

#[tokio::test]
async fn declaring_the_topology_twice_changes_nothing() {
    with_prefix(|prefix| async move {
        let first = connect(&prefix, &Queue::ALL).await;
        let envelope = stock_reserved();
        first
            .publish(std::slice::from_ref(&envelope))
            .await
            .expect("publish");
        let second = connect(&prefix, &Queue::ALL).await;
        let delivery = receive_one(&second.consumer(Queue::Order)).await;
        assert_eq!(
            delivery.envelope, envelope,
            "the queue kept its message through a second declaration"
        );
    })
    .await;
}

#[tokio::test]
async fn an_event_reaches_the_analytics_queue_too_and_its_depth_counts_it() {
    with_prefix(|prefix| async move {
        let transport = connect(&prefix, &[Queue::Order, Queue::Analytics]).await;
        assert_eq!(transport.depth(Queue::Analytics).await.expect("depth"), 0);
        let events = [stock_reserved(), stock_reserved(), stock_reserved()];
        transport.publish(&events).await.expect("publish");
        // Confirmed: routed to both queues. The depth counts ready messages.
        assert_eq!(transport.depth(Queue::Analytics).await.expect("depth"), 3);
        assert_eq!(transport.depth(Queue::Order).await.expect("depth"), 3);
        let delivery = receive_one(&transport.consumer(Queue::Analytics)).await;
        assert_eq!(delivery.envelope.message_type, "inventory.reserved");
        transport.disconnect().await;
    })
    .await;
}

#[tokio::test]
async fn a_message_parked_from_elsewhere_is_listed_and_replayed_like_any_dead_letter() {
    with_prefix(|prefix| async move {
        let transport = connect(&prefix, &[Queue::Analytics]).await;
        let envelope = stock_reserved();
        let body = serde_json::to_vec(&envelope).expect("json");
        transport
            .park(
                Queue::Analytics,
                body,
                Some(&envelope),
                "rejected by analytics",
                3,
            )
            .await
            .expect("parked");
        transport
            .park(
                Queue::Analytics,
                b"not an envelope".to_vec(),
                None,
                "unreadable",
                1,
            )
            .await
            .expect("parked");

        let listed = transport.list().await.expect("list");
        assert_eq!(listed.len(), 2, "{listed:?}");
        let parked = &listed[0];
        assert_eq!(parked.id, format!("analytics:{}", envelope.message_id));
        assert_eq!(parked.envelope, envelope);
        assert_eq!(
            (parked.error.as_str(), parked.attempts),
            ("rejected by analytics", 3)
        );
        assert_eq!(listed[1].envelope.payload, "not an envelope");
        assert_eq!(listed[1].error, "unreadable");

        assert!(transport.replay(&parked.id).await.expect("replay"));
        let consumer = transport.consumer(Queue::Analytics);
        let replayed = receive_one(&consumer).await;
        assert_eq!(replayed.envelope, envelope);
        assert_eq!(replayed.attempts, 0, "a replay starts its attempts afresh");
        consumer.ack(&replayed).await.expect("ack");
    })
    .await;
}
