//! `verify` on a scaled-out installation: every service's schema in a PostgreSQL database of
//! the test's own, written through the PostgreSQL adapters, and RabbitMQ's dead letters under
//! a prefix of the test's own.

use std::time::Duration;

use contracts::value::{Email, Money, OrderId, Quantity, Sku};
use contracts::{Envelope, Message, OrderLine, OrderPlaced, Queue, ReleaseStock, StockLine};
use order_domain::{OrderCommand, OrderEvent, decide, replay};
use orderflow::verify::{Broker, Kind, verify_scaled};
use payment_domain::{Payment, PaymentStatus};
use sqlx::{Connection as _, PgConnection};
use store::inventory::InventoryStore as _;
use store::order::OrderStore as _;
use store::payment::PaymentStore as _;
use store::query::QueryStore as _;
use store_postgres::{PgDatabase, PgInventoryStore, PgOrderStore, PgPaymentStore, PgQueryStore};
use testkit::postgres::TestDatabase;
use time::OffsetDateTime;
use transport::{Publisher as _, QueueConsumer as _};
use transport_amqp::testing::{amqp_url, with_prefix};
use transport_amqp::{AmqpSettings, AmqpTransport};
use uuid::Uuid;

use crate::embedded::assert_only;
use crate::golden::AT_ONCE;

/// A completed order's events: placed, stock reserved, paid with `payment_id`, completed.
fn completed_order(order_id: Uuid, payment_id: Uuid) -> Vec<Envelope> {
    let now = OffsetDateTime::now_utc();
    let mut events = vec![OrderEvent::Placed(OrderPlaced {
        order_id: OrderId::new(order_id),
        customer_email: Email::parse("ada@example.com").expect("a valid email"),
        items: vec![OrderLine {
            product_id: Sku::parse("product-002").expect("a valid sku"),
            name: "Mouse".into(),
            quantity: Quantity::new(1).expect("a valid quantity"),
            unit_price_minor: 2_599,
        }],
        total_minor: 2_599,
        currency: "USD".into(),
        payment_reference: "sha256:00112233445566778899aabb".into(),
        placed_at: now,
    })];
    let pay = OrderCommand::ConfirmPayment {
        payment_id,
        amount_minor: 2_599,
        at: now,
    };
    for command in [OrderCommand::ConfirmStock { at: now }, pay] {
        let order = replay(&events).expect("placed");
        events.extend(decide(Some(&order), command).expect("allowed"));
    }
    (events.into_iter())
        .map(|event| Envelope::build(Uuid::now_v7(), &Message::from(event)).at(now))
        .collect()
}

/// Migrates every schema a service keeps and writes one completed order through the
/// adapters, as the services would have; returns the order's id.
async fn install_with_a_completed_order(database: &TestDatabase) -> Uuid {
    let connect = |service| PgDatabase::connect(database.url(), service);
    let (order_id, payment_id) = (Uuid::now_v7(), Uuid::now_v7());
    let events = completed_order(order_id, payment_id);

    let orders = PgOrderStore::new(connect(Queue::Order).await.expect("order schema"));
    let mut tx = orders.begin().await.expect("begin");
    tx.append(OrderId::new(order_id), 0, &events)
        .await
        .expect("append");
    tx.commit().await.expect("commit");

    let inventory = PgInventoryStore::new(connect(Queue::Inventory).await.expect("schema"));
    let mut tx = inventory.begin().await.expect("begin");
    let sku = Sku::parse("product-002").expect("a valid sku");
    tx.create_stock(&sku, 10).await.expect("stock");
    let line = StockLine {
        product_id: sku,
        quantity: Quantity::new(1).expect("a valid quantity"),
    };
    let order = OrderId::new(order_id);
    let reserved = tx.reserve(order, &[line]).await.expect("reserve");
    reserved.expect("enough stock");
    tx.commit_reservation(order).await.expect("sell");
    tx.commit().await.expect("commit");

    let payments = PgPaymentStore::new(connect(Queue::Payment).await.expect("schema"));
    let mut tx = payments.begin().await.expect("begin");
    let payment = Payment {
        payment_id,
        order_id: OrderId::new(order_id),
        amount: Money::new(2_599, "USD"),
        status: PaymentStatus::Pending,
        failure_reason: None,
    };
    assert!(tx.insert_pending(&payment).await.expect("charge"));
    (tx.set_status(OrderId::new(order_id), PaymentStatus::Succeeded, None)
        .await)
        .expect("captured");
    tx.commit().await.expect("commit");

    let read_model = PgQueryStore::new(connect(Queue::Query).await.expect("schema"));
    let mut tx = read_model.begin().await.expect("begin");
    for event in &events {
        tx.keep_event(event).await.expect("keep");
    }
    let view = query_domain::project(&events).expect("a fold");
    tx.save_view(&view.expect("a view")).await.expect("save");
    tx.commit().await.expect("commit");
    order_id
}

/// Runs statements on the test database, as only a bug or a hand could.
async fn tamper(database: &TestDatabase, statements: &[&'static str]) {
    let mut connection = PgConnection::connect(database.url())
        .await
        .expect("connect");
    for sql in statements {
        sqlx::query(*sql)
            .execute(&mut connection)
            .await
            .expect("tamper");
    }
    connection.close().await.expect("close");
}

#[tokio::test]
async fn a_scaled_installation_verifies_clean_then_reports_oversold_stock() {
    let database = TestDatabase::create().await.expect("a test database");
    install_with_a_completed_order(&database).await;

    let clean = verify_scaled(database.url(), None, &AT_ONCE).await;
    tamper(
        &database,
        &[
            "ALTER TABLE inventory_service.stock DROP CONSTRAINT stock_available_check",
            "UPDATE inventory_service.stock SET available = available - 20, \
             restocked = restocked - 20 WHERE sku = 'product-002'",
        ],
    )
    .await;
    let oversold = verify_scaled(database.url(), None, &AT_ONCE).await;
    database.drop_database().await.expect("drop the database");

    let clean = clean.expect("checked");
    assert!(clean.is_clean(), "{clean}");
    assert_eq!((clean.checked.orders, clean.checked.views), (1, 1));
    assert_eq!(clean.not_checked, ["dead letters (no AMQP_URL given)"]);
    let oversold = oversold.expect("checked");
    assert_only(&oversold, Kind::NegativeStock, "product product-002");
    assert_eq!(oversold.violations[0].detail, "available is -11");
}

#[tokio::test]
async fn stock_held_for_a_completed_order_is_reported_on_postgres() {
    let database = TestDatabase::create().await.expect("a test database");
    let order_id = install_with_a_completed_order(&database).await;
    tamper(
        &database,
        &["UPDATE inventory_service.reservations SET status = 'held'"],
    )
    .await;

    let report = verify_scaled(database.url(), None, &AT_ONCE).await;
    database.drop_database().await.expect("drop the database");

    let report = report.expect("checked");
    assert_only(
        &report,
        Kind::StockHeldForEndedOrder,
        &format!("order {order_id}"),
    );
}

#[tokio::test]
async fn a_database_without_the_service_schemas_cannot_be_checked() {
    let database = TestDatabase::create().await.expect("a test database");

    let checked = verify_scaled(database.url(), None, &AT_ONCE).await;
    database.drop_database().await.expect("drop the database");

    let error = checked.expect_err("nothing to check");
    assert!(
        format!("{error:#}").contains("schema order_service does not exist"),
        "{error:#}"
    );
}

#[tokio::test]
async fn dead_letters_on_rabbitmq_are_listed_when_the_broker_is_given() {
    with_prefix(|prefix| async move {
        let database = TestDatabase::create().await.expect("a test database");
        install_with_a_completed_order(&database).await;
        let settings = AmqpSettings {
            prefix: prefix.clone(),
            ..AmqpSettings::default()
        };
        let transport = AmqpTransport::connect(&amqp_url(), settings)
            .await
            .expect("connect to rabbitmq");
        let order_id = Uuid::now_v7();
        let poison = Message::from(ReleaseStock {
            order_id: OrderId::new(order_id),
        });
        let poison = Envelope::build(Uuid::now_v7(), &poison).at(OffsetDateTime::now_utc());
        transport.publish(&[poison]).await.expect("publish");
        let consumer = transport.consumer(Queue::Inventory);
        let patience = tokio::time::Instant::now() + Duration::from_secs(30);
        let delivery = loop {
            let mut received = consumer.receive(1).await.expect("receive");
            if let Some(delivery) = received.pop() {
                break delivery;
            }
            assert!(tokio::time::Instant::now() < patience, "nothing delivered");
            consumer.wait_for_messages(Duration::from_millis(100)).await;
        };
        (consumer.dead_letter(&delivery, "handler rejected it").await).expect("park it");

        let broker = Broker {
            url: amqp_url(),
            prefix,
        };
        let report = verify_scaled(database.url(), Some(&broker), &AT_ONCE).await;
        transport.disconnect().await;
        database.drop_database().await.expect("drop the database");

        let report = report.expect("checked");
        assert_eq!(report.checked.dead_letters, Some(1), "{report}");
        assert!(report.not_checked.is_empty());
        assert_only(
            &report,
            Kind::DeadLetter,
            &format!("dead letter inventory:{}", delivery.envelope.message_id),
        );
    })
    .await;
}
