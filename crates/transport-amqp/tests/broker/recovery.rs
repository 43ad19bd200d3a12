//! Losing the connection, or never having one.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contracts::{Envelope, Queue};
use testkit::proxy::Proxy;
use testkit::transport_contract::retry_policy;
use tokio_util::sync::CancellationToken;
use transport::{DeadLetters as _, HandleError, Handler, Publisher as _, QueueConsumer as _};
use transport_amqp::testing::with_prefix;
use transport_amqp::{AmqpSettings, AmqpTransport};
use uuid::Uuid;

use crate::{PATIENCE, connect, receive_one, stock_reserved};

/// Records the id of every message it handles.
#[derive(Default)]
struct Recorder {
    handled: Mutex<Vec<Uuid>>,
}

impl Recorder {
    fn handled(&self) -> Vec<Uuid> {
        self.handled.lock().expect("handled").clone()
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        self.handled
            .lock()
            .expect("handled")
            .push(envelope.message_id);
        Ok(())
    }
}

/// Publishes like the relay: the whole batch again until the transport confirms it.
async fn publish_until_confirmed(transport: &AmqpTransport, batch: &[Envelope]) -> u32 {
    let deadline = Instant::now() + PATIENCE;
    let mut failures = 0;
    while let Err(error) = transport.publish(batch).await {
        failures += 1;
        assert!(
            Instant::now() < deadline,
            "publishing never recovered: {:#}",
            anyhow::Error::new(error)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    failures
}

#[tokio::test]
async fn publishing_and_consuming_recover_after_the_connection_is_lost() {
    with_prefix(|prefix| async move {
        let transport = connect(&prefix, &[Queue::Order]).await;
        let recorder = Arc::new(Recorder::default());
        let shutdown = CancellationToken::new();
        let consumer = tokio::spawn(transport::run_consumer(
            Arc::new(transport.consumer(Queue::Order)),
            recorder.clone(),
            retry_policy(),
            transport::OutageReporter::unheard(),
            shutdown.clone(),
        ));

        let mut published = HashSet::new();
        for round in 0..6 {
            let batch: Vec<Envelope> = (0..50).map(|_| stock_reserved()).collect();
            published.extend(batch.iter().map(|envelope| envelope.message_id));
            if round % 2 == 1 {
                // Lose the connection while the batch is being published and consumed.
                let publishing = {
                    let transport = transport.clone();
                    tokio::spawn(async move { publish_until_confirmed(&transport, &batch).await })
                };
                tokio::time::sleep(Duration::from_millis(2)).await;
                transport.disconnect().await;
                publishing.await.expect("the publisher task ends");
            } else {
                publish_until_confirmed(&transport, &batch).await;
            }
        }

        let deadline = Instant::now() + PATIENCE;
        let handled = loop {
            let handled: HashSet<Uuid> = recorder.handled().into_iter().collect();
            if handled.is_superset(&published) || Instant::now() >= deadline {
                break handled;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        shutdown.cancel();
        consumer.await.expect("the consumer loop ends");

        let lost = published.difference(&handled).count();
        assert_eq!(lost, 0, "{lost} of {} messages were lost", published.len());
        assert!(
            transport.list().await.expect("list").is_empty(),
            "nothing is dead-lettered by a lost connection"
        );
    })
    .await;
}

#[tokio::test]
async fn acking_after_the_connection_is_lost_fails_and_the_message_comes_back() {
    with_prefix(|prefix| async move {
        let transport = connect(&prefix, &[Queue::Order]).await;
        let envelope = stock_reserved();
        transport
            .publish(std::slice::from_ref(&envelope))
            .await
            .expect("publish");
        let consumer = transport.consumer(Queue::Order);
        let delivery = receive_one(&consumer).await;

        transport.disconnect().await;
        let acked = consumer.ack(&delivery).await;
        assert!(acked.is_err(), "an ack on a dead channel is an error");

        let again = receive_one(&consumer).await;
        assert_eq!(again.envelope, envelope);
        assert_eq!(again.attempts, 0);
        assert!(again.redeliveries >= 1, "{again:?}");
        consumer.ack(&again).await.expect("ack after reconnecting");
    })
    .await;
}

#[tokio::test]
async fn connecting_to_a_broker_that_is_down_fails_after_a_few_tries() {
    let started = Instant::now();
    // Nothing listens on port 1 of the loopback interface.
    let connected = AmqpTransport::connect(
        "amqp://guest:guest@127.0.0.1:1/%2f",
        AmqpSettings::default(),
    )
    .await;
    let error = connected.expect_err("no broker, no transport");
    assert!(
        format!("{error:#}").contains("connect to the broker"),
        "{error:#}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "it gives up rather than hang"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_answers_within_two_seconds_while_the_broker_is_unreachable_and_others_reconnect() {
    with_prefix(|prefix| async move {
        let (mut link, url) = Proxy::in_front_of(&transport_amqp::testing::amqp_url())
            .await
            .expect("proxy");
        let settings = AmqpSettings {
            prefix,
            retry: retry_policy(),
            ..AmqpSettings::default()
        };
        let transport = AmqpTransport::connect(&url, settings)
            .await
            .expect("connect");
        assert!(transport.ping().await, "up");

        link.take_down().await;
        // A process's consumers keep reconnecting meanwhile.
        let reconnecting: Vec<_> = (0..4)
            .map(|_| {
                let consumer = transport.consumer(Queue::Order);
                tokio::spawn(async move {
                    loop {
                        let _ = consumer.receive(8).await;
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let up = transport.ping().await;
        let took = started.elapsed();
        link.bring_back().await;

        assert!(!up, "down");
        assert!(took < Duration::from_millis(2_500), "a ping took {took:?}");
        let deadline = Instant::now() + PATIENCE;
        while !transport.ping().await {
            assert!(Instant::now() < deadline, "never up again");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for task in reconnecting {
            task.abort();
        }
        transport.disconnect().await;
    })
    .await;
}
