//! Poison of every shape on every queue while healthy orders flow and consumer processes are
//! killed with `kill -9` and started again: exactly the poison is dead-lettered, each with its
//! error; every healthy order ends with the invariants holding. Then a healthy order's message
//! dead-lettered for a fault outside it is replayed once the fault is fixed, and completes.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use transport_amqp::testing::{amqp_url, publish_raw};
use transport_amqp::{AmqpSettings, AmqpTransport};

use crate::checks::{assert_settled, mixed, place_all};
use crate::harness::{ADMIN_TOKEN, Cluster};
use crate::poison::orderflow;
use crate::poison_catalogue::{Poison, every_shape_on_every_queue};

/// Consumer processes killed in each round, one of every consuming service.
const VICTIMS: [&str; 6] = [
    "inventory-1",
    "payment-2",
    "order-1",
    "notification-1",
    "query-1",
    "analytics-1",
];

async fn inject(cluster: &Cluster, poison: &[Poison]) {
    let names = AmqpTransport::connect(
        &amqp_url(),
        AmqpSettings {
            prefix: cluster.amqp_prefix.clone(),
            ..AmqpSettings::default()
        },
    )
    .await
    .expect("connect");
    let topology = names.topology().clone();
    names.disconnect().await;
    let raw: Vec<_> = poison
        .iter()
        .map(|poison| poison.raw(topology.queue(poison.queue)))
        .collect();
    publish_raw(&amqp_url(), &raw)
        .await
        .expect("publish poison");
}

/// Kills one consumer process of every service, and starts them again a moment later.
async fn kill_and_restart(cluster: &Cluster) {
    for victim in VICTIMS {
        cluster.kill_9(victim);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.script("start").await;
}

/// The dead letters once `expected` distinct messages are parked (or after a minute).
async fn dead_letters_once(cluster: &Cluster, expected: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let listed = cluster.admin("/api/v1/admin/dead-letters").await;
        let listed = listed.as_array().expect("array").clone();
        let distinct: HashSet<&str> = listed.iter().filter_map(|d| d["id"].as_str()).collect();
        if distinct.len() >= expected || Instant::now() > deadline {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every dead letter is one of `poison`, each of which is parked with its error and attempts.
fn assert_exactly_the_poison(dead: &[Value], poison: &[Poison]) {
    let by_id: HashMap<String, &Poison> = poison
        .iter()
        .map(|p| (format!("{}:{}", p.queue.name(), p.message_id), p))
        .collect();
    let mut parked = HashSet::new();
    for letter in dead {
        let id = letter["id"].as_str().expect("id");
        let Some(poison) = by_id.get(id) else {
            panic!("a healthy message was dead-lettered: {letter}");
        };
        let error = letter["error"].as_str().expect("error");
        assert!(
            error.contains(&poison.error),
            "{} on {}: the error {error:?} does not say {:?}",
            poison.shape,
            poison.queue.name(),
            poison.error
        );
        assert_eq!(letter["attempts"], poison.attempts, "{letter}");
        parked.insert(id.to_owned());
    }
    let missing: Vec<&String> = by_id.keys().filter(|id| !parked.contains(*id)).collect();
    assert!(missing.is_empty(), "never dead-lettered: {missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_poison_messages_under_kill_9_are_exactly_the_dead_letters_and_one_replayed_after_its_fix_completes()
 {
    // Retries half a second apart keep poison in flight while processes die.
    let cluster = Cluster::start(
        2,
        &[
            ("ORDERFLOW_PAYMENT_LATENCY_MS", "20"),
            ("ORDERFLOW_RETRY_DELAY_MS", "500"),
        ],
    )
    .await;
    let poison = every_shape_on_every_queue();
    assert_eq!(poison.len(), 60);
    let wave = |orders: std::ops::Range<usize>| {
        tokio::spawn(place_all(
            cluster.http.clone(),
            cluster.gateway.clone(),
            orders.map(mixed).collect(),
            15,
        ))
    };

    let first = wave(0..200);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    inject(&cluster, &poison[..25]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill_and_restart(&cluster).await;
    let second = wave(200..400);
    inject(&cluster, &poison[25..]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    kill_and_restart(&cluster).await;
    let mut accepted = first.await.expect("placing");
    accepted.extend(second.await.expect("placing"));

    assert!(accepted.len() >= 150, "only {} accepted", accepted.len());
    assert_settled(&cluster, &accepted).await;
    let dead = dead_letters_once(&cluster, poison.len()).await;
    assert_exactly_the_poison(&dead, &poison);
    assert_eq!(
        by_id(orderflow(&cluster, &["dlq", "list"]).await),
        by_id(cluster.admin("/api/v1/admin/dead-letters").await),
        "the CLI lists the same"
    );

    replay_after_the_fix_completes_the_order(&cluster, poison.len()).await;
    cluster.remove().await;
}

/// A healthy order's `inventory.reserve` is dead-lettered because the inventory's schema lacks
/// its reservations table (a release deployed before its migration ran: the handler fails on
/// every try, a bug, not an outage); once the table is back, the dead letter is replayed
/// through the admin API and the order completes.
async fn replay_after_the_fix_completes_the_order(cluster: &Cluster, poison: usize) {
    sql(
        cluster,
        "ALTER TABLE inventory_service.reservations RENAME TO reservations_gone",
    )
    .await;
    let (status, accepted) = cluster
        .place(&json!({"item_id": "product-003", "quantity": 1, "user_email": "late@example.com"}))
        .await;
    assert_eq!(status, 202, "{accepted}");
    let order_id = accepted["order_id"].as_str().expect("id").to_owned();
    let letter = dead_letters_once(cluster, poison + 1)
        .await
        .into_iter()
        .find(|letter| letter["envelope"]["correlation_id"] == order_id.as_str())
        .expect("the order's reservation is dead-lettered");
    assert_eq!(letter["queue"], "inventory", "{letter}");
    assert_eq!(letter["envelope"]["type"], "inventory.reserve");
    assert!(
        letter["error"]
            .as_str()
            .is_some_and(|error| error.contains("reservations")),
        "{letter}"
    );
    let (_, pending) = cluster.get(&format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(pending["status"], "PENDING", "{pending}");

    sql(
        cluster,
        "ALTER TABLE inventory_service.reservations_gone RENAME TO reservations",
    )
    .await;
    let replayed = cluster
        .http
        .post(format!(
            "{}/api/v1/admin/dead-letters/{}/replay",
            cluster.gateway,
            letter["id"].as_str().expect("id")
        ))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .expect("replay");
    assert_eq!(replayed.status(), 202);

    let order = cluster
        .wait_until_terminal(&order_id, Duration::from_secs(20))
        .await;
    assert_eq!(order["status"], "COMPLETED", "{order}");
    let left = cluster.admin("/api/v1/admin/dead-letters").await;
    assert!(
        left.as_array()
            .expect("array")
            .iter()
            .all(|letter| letter["envelope"]["correlation_id"] != order_id.as_str()),
        "the replayed message left the dead letters: {left}"
    );
}

/// Dead letters in the order of their ids: a listing orders them by when they were parked, and
/// those parked in the same millisecond in no particular order.
fn by_id(listed: Value) -> Vec<Value> {
    let mut listed = listed.as_array().expect("array").clone();
    listed.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    listed
}

async fn sql(cluster: &Cluster, statement: &'static str) {
    let url = cluster.database_url().to_owned();
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
        .await
        .expect("connect");
    sqlx::query(statement)
        .execute(&mut connection)
        .await
        .expect(statement);
}
