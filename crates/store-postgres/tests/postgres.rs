//! What the PostgreSQL adapters do beyond the shared store contract: one schema per service,
//! repeatable migrations, several relays on one outbox, a relay woken again after its listening
//! connection is killed, and how errors are classified.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::value::{Money, OrderId, Sku};
use contracts::{Envelope, Message, Queue, StockReserved};
use store::order::{OrderStore as _, Product};
use store::{OutboxReader, StoreError};
use store_postgres::{PgDatabase, PgOrderStore, PgOutbox, migrate_all};
use testkit::postgres::TestDatabase;
use time::OffsetDateTime;
use uuid::Uuid;

fn message() -> Envelope {
    Envelope::build(
        uuid::Uuid::now_v7(),
        &Message::from(StockReserved {
            order_id: OrderId::new(Uuid::now_v7()),
        }),
    )
    .at(OffsetDateTime::now_utc())
}

async fn enqueue(store: &PgOrderStore, count: usize) {
    let mut tx = store.begin().await.expect("begin");
    for _ in 0..count {
        tx.enqueue(&message()).await.expect("enqueue");
    }
    tx.commit().await.expect("commit");
}

async fn tables_by_schema(url: &str) -> Vec<(String, String)> {
    let admin = sqlx::PgPool::connect(url).await.expect("connect");
    let tables = sqlx::query_as(
        "SELECT table_schema::text, table_name::text FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') \
         ORDER BY table_schema, table_name",
    )
    .fetch_all(&admin)
    .await
    .expect("list tables");
    admin.close().await;
    tables
}

#[tokio::test]
async fn every_service_gets_a_schema_of_its_own_and_migrating_again_changes_nothing() {
    let test_database = TestDatabase::create().await.expect("create database");
    migrate_all(test_database.url()).await.expect("migrate");
    let order = PgDatabase::connect(test_database.url(), Queue::Order)
        .await
        .expect("connect");
    enqueue(&PgOrderStore::new(order.clone()), 1).await;
    migrate_all(test_database.url())
        .await
        .expect("migrate again");

    let tables = tables_by_schema(test_database.url()).await;
    let schemas: HashSet<&str> = tables.iter().map(|(schema, _)| schema.as_str()).collect();
    assert_eq!(
        schemas,
        HashSet::from([
            "order_service",
            "inventory_service",
            "payment_service",
            "notification_service",
            "query_service",
            "analytics_service",
        ]),
        "nothing outside the services' schemas"
    );
    for (schema, own_table) in [
        ("order_service", "events"),
        ("inventory_service", "stock"),
        ("payment_service", "payments"),
        ("notification_service", "notifications"),
        ("query_service", "order_views"),
        ("analytics_service", "analytics_counters"),
        ("analytics_service", "archive_files"),
    ] {
        for table in ["inbox", "outbox", "_sqlx_migrations", own_table] {
            assert!(
                tables.contains(&(schema.to_owned(), table.to_owned())),
                "{schema}.{table} exists"
            );
        }
    }
    assert_eq!(order.schema(), "order_service");
    assert_eq!(
        PgOutbox::new(order.clone()).lag().await.expect("lag"),
        1,
        "migrating again kept the data"
    );
    let inventory = PgDatabase::connect(test_database.url(), Queue::Inventory)
        .await
        .expect("connect");
    assert_eq!(
        PgOutbox::new(inventory.clone()).lag().await.expect("lag"),
        0,
        "one service's outbox is not another's"
    );
    order.close().await;
    inventory.close().await;
    test_database.drop_database().await.expect("drop database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_draining_one_outbox_at_once_never_receive_the_same_message() {
    const MESSAGES: usize = 300;
    let test_database = TestDatabase::create().await.expect("create database");
    let writer = PgDatabase::connect(test_database.url(), Queue::Order)
        .await
        .expect("connect");
    enqueue(&PgOrderStore::new(writer.clone()), MESSAGES).await;

    let mut relays = Vec::new();
    for _ in 0..3 {
        // A database handle each, as relays in separate processes would have.
        let database = PgDatabase::connect(test_database.url(), Queue::Order)
            .await
            .expect("connect");
        let outbox = PgOutbox::new(database.clone());
        relays.push((
            database,
            tokio::spawn(async move {
                // As the relay does: each batch marked published by the read of the next.
                let mut received: Vec<i64> = Vec::new();
                let mut published = Vec::new();
                loop {
                    let batch = outbox
                        .mark_published_then_pending(&published, 7)
                        .await
                        .expect("mark published, then pending");
                    if batch.is_empty() {
                        return received;
                    }
                    let ids: Vec<i64> = batch.iter().map(|entry| entry.id).collect();
                    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "in id order");
                    received.extend(&ids);
                    published = ids;
                }
            }),
        ));
    }
    let mut received = Vec::new();
    for (database, relay) in relays {
        received.extend(relay.await.expect("relay task"));
        database.close().await;
    }

    let distinct: HashSet<i64> = received.iter().copied().collect();
    assert_eq!(received.len(), MESSAGES, "every message once");
    assert_eq!(distinct.len(), MESSAGES, "no message twice");
    writer.close().await;
    test_database.drop_database().await.expect("drop database");
}

#[tokio::test]
async fn a_message_claimed_by_a_relay_that_died_is_handed_out_once_its_claim_expires() {
    const CLAIM: Duration = Duration::from_millis(300);
    let test_database = TestDatabase::create().await.expect("create database");
    let database = PgDatabase::connect(test_database.url(), Queue::Order)
        .await
        .expect("connect");
    enqueue(&PgOrderStore::new(database.clone()), 1).await;
    let dead = PgOutbox::new(database.clone()).with_claim(CLAIM);
    let alive = PgOutbox::new(database.clone()).with_claim(CLAIM);

    let claimed = dead.pending(10).await.expect("pending");
    assert_eq!(claimed.len(), 1);
    assert!(
        alive.pending(10).await.expect("pending").is_empty(),
        "claimed by the other relay"
    );
    assert_eq!(
        dead.pending(10).await.expect("pending again")[0].id,
        claimed[0].id,
        "the claiming relay reads its own claim again"
    );
    let started = Instant::now();
    let taken_over = loop {
        let pending = alive.pending(10).await.expect("pending");
        if !pending.is_empty() {
            break pending;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "claim never expired"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken_over[0].id, claimed[0].id);
    assert_eq!(taken_over[0].envelope, claimed[0].envelope);
    database.close().await;
    test_database.drop_database().await.expect("drop database");
}

/// A relay killed right after reading its rows leaves them claimed: by default for 5 s, far
/// inside the saga's 30 s stock deadline, so a kill -9 of a relay does not cancel the orders
/// whose messages it held (claims of 30 s did).
#[tokio::test]
async fn by_default_the_rows_of_a_relay_that_died_are_handed_out_again_within_six_seconds() {
    let test_database = TestDatabase::create().await.expect("create database");
    let database = PgDatabase::connect(test_database.url(), Queue::Order)
        .await
        .expect("connect");
    enqueue(&PgOrderStore::new(database.clone()), 1).await;
    let dead = PgOutbox::new(database.clone());
    let alive = PgOutbox::new(database.clone());
    assert_eq!(dead.pending(10).await.expect("pending").len(), 1);

    let started = Instant::now();
    while alive.pending(10).await.expect("pending").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "still claimed after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    database.close().await;
    test_database.drop_database().await.expect("drop database");
}

#[tokio::test]
async fn a_broken_check_constraint_is_unexpected_not_a_conflict() {
    let test_database = TestDatabase::create().await.expect("create database");
    let database = PgDatabase::connect(test_database.url(), Queue::Order)
        .await
        .expect("connect");
    let store = PgOrderStore::new(database.clone());
    let mut tx = store.begin().await.expect("begin");
    let negative_price = Product {
        sku: Sku::parse("product-001").expect("a valid sku"),
        name: "Laptop".into(),
        price: Money::new(-1, "USD"),
    };

    let saved = tx.upsert_product(&negative_price).await;

    assert!(
        matches!(saved, Err(StoreError::Unexpected(_))),
        "got {saved:?}"
    );
    drop(tx);
    database.close().await;
    test_database.drop_database().await.expect("drop database");
}

#[tokio::test]
async fn a_closed_database_is_unavailable_and_fails_its_ping() {
    let test_database = TestDatabase::create().await.expect("create database");
    let database = PgDatabase::connect(test_database.url(), Queue::Order)
        .await
        .expect("connect");
    let store: Arc<dyn store::order::OrderStore> = Arc::new(PgOrderStore::new(database.clone()));
    assert!(database.ping().await);

    database.close().await;

    assert!(!database.ping().await);
    assert!(matches!(
        store.begin().await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.load(OrderId::new(Uuid::now_v7())).await,
        Err(StoreError::Unavailable(_))
    ));
    test_database.drop_database().await.expect("drop database");
}

#[tokio::test]
async fn a_test_database_is_dropped_even_when_the_test_does_not_drop_it() {
    let test_database = TestDatabase::create().await.expect("create database");
    let name = test_database.name().to_owned();
    let database = PgDatabase::connect(test_database.url(), Queue::Payment)
        .await
        .expect("connect");

    drop(test_database);

    let admin = sqlx::PgPool::connect(&testkit::postgres::server_url())
        .await
        .expect("connect to the server");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_one(&admin)
        .await
        .expect("look for the database");
    assert_eq!(left, 0);
    admin.close().await;
    database.close().await;
}

/// An email recorded before claims existed (the notification schema's first version) has no
/// claim row: its message, delivered again, finds it sent and claims nothing.
#[tokio::test]
async fn an_email_recorded_before_claims_existed_is_never_claimed() {
    use store::notification::{Claim, NotificationStore as _};
    let test_database = TestDatabase::create().await.expect("create database");
    let database = PgDatabase::connect(test_database.url(), Queue::Notification)
        .await
        .expect("connect");
    let admin = sqlx::PgPool::connect(test_database.url())
        .await
        .expect("connect");
    let message_id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO notification_service.notifications (message_id, order_id, recipient, subject, body, sent_at) \
         VALUES ($1, $2, 'ada@example.com', 'Your order', 'Thank you', 0)",
    )
    .bind(message_id.to_string())
    .bind(OrderId::new(Uuid::now_v7()).to_string())
    .execute(&admin)
    .await
    .expect("record an email without a claim");

    let store = store_postgres::PgNotificationStore::new(database.clone());
    let claim = store
        .claim_sending(message_id, Uuid::now_v7(), Duration::from_secs(60))
        .await
        .expect("claim");

    assert_eq!(claim, Claim::Sent);
    let claims: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM notification_service.notification_claims")
            .fetch_one(&admin)
            .await
            .expect("count claims");
    assert_eq!(claims, 0, "no claim taken");
    admin.close().await;
    database.close().await;
    test_database.drop_database().await.expect("drop database");
}
