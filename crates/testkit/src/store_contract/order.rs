//! The order service's store: event store, saga deadlines, idempotency keys and payment
//! tokens ([`keys`]), catalog.

mod keys;

pub use keys::{
    a_payment_token_is_kept_until_it_is_taken_once,
    an_expired_idempotency_key_is_not_read_and_can_be_taken_again,
    an_idempotency_key_is_taken_once, purging_deletes_only_expired_idempotency_keys,
    the_same_idempotency_key_in_two_scopes_is_two_keys,
};

use std::sync::Arc;
use std::time::{Duration, Instant};

use contracts::value::{Money, OrderId};
use order_domain::saga::SagaStep;
use store::OutboxReader;
use store::StoreError;
use store::order::{
    DeadlineChange, DecisionWrites, DueDeadline, IdempotentRequest, OrderStore, Product,
};

use super::{assert_conflict, message_about, new_order_id, sku};

/// Events are appended at the stream's current version and read back in stream order, each
/// stream apart from the others.
pub async fn events_are_appended_at_the_expected_version_and_read_in_order(
    store: Arc<dyn OrderStore>,
) {
    let (order, other) = (new_order_id(), new_order_id());
    let (e1, e2, e3) = (
        message_about(order),
        message_about(order),
        message_about(order),
    );
    let f1 = message_about(other);
    for (order_id, expected, events) in [
        (order, 0, vec![e1.clone(), e2.clone()]),
        (other, 0, vec![f1.clone()]),
        (order, 2, vec![e3.clone()]),
    ] {
        let mut tx = store.begin().await.expect("begin");
        tx.append(order_id, expected, &events)
            .await
            .expect("append at the current version");
        tx.commit().await.expect("commit");
    }

    let stream = store.load(order).await.expect("load");
    let versions: Vec<u64> = stream.iter().map(|event| event.version).collect();
    assert_eq!(versions, [1, 2, 3]);
    let envelopes: Vec<_> = stream.iter().map(|event| event.envelope.clone()).collect();
    assert_eq!(envelopes, [e1, e2, e3]);
    assert!(store.load(new_order_id()).await.expect("load").is_empty());

    let other_stream = store.load(other).await.expect("load the other stream");
    let other_envelopes: Vec<_> = other_stream
        .into_iter()
        .map(|event| event.envelope)
        .collect();
    assert_eq!(other_envelopes, [f1]);
}

/// Appending at any version but the current one is a conflict, and appends nothing.
pub async fn appending_at_a_stale_version_is_a_conflict(store: Arc<dyn OrderStore>) {
    let order = new_order_id();
    let mut tx = store.begin().await.expect("begin");
    tx.append(order, 0, &[message_about(order)])
        .await
        .expect("append");
    tx.commit().await.expect("commit");

    for stale in [0, 2] {
        let mut tx = store.begin().await.expect("begin");
        assert_conflict(
            tx.append(order, stale, &[message_about(order)]).await,
            "append at a version that is not the current one",
        );
    }
    assert_eq!(store.load(order).await.expect("load").len(), 1);
}

/// Of transactions appending to one stream at the same version at once, exactly one commits;
/// the others see a conflict.
pub async fn of_concurrent_appends_at_one_version_exactly_one_wins(store: Arc<dyn OrderStore>) {
    let order = new_order_id();
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                tx.append(order, 0, &[message_about(order)]).await?;
                tx.commit().await
            })
        })
        .collect();
    let mut wins = 0;
    for writer in writers {
        match writer.await.expect("writer task") {
            Ok(()) => wins += 1,
            Err(StoreError::Conflict) => {}
            Err(other) => panic!("a losing append must be a conflict, got {other:?}"),
        }
    }
    assert_eq!(wins, 1, "exactly one append wins");
    assert_eq!(store.load(order).await.expect("load").len(), 1);
}

/// A deadline is not due before its delay has passed on the database's clock, and is due
/// after.
pub async fn a_deadline_falls_due_only_after_its_delay(store: Arc<dyn OrderStore>) {
    const DELAY: Duration = Duration::from_millis(300);
    let order = new_order_id();
    let started = Instant::now();
    let mut tx = store.begin().await.expect("begin");
    tx.set_deadline(order, SagaStep::AwaitingStock, DELAY)
        .await
        .expect("set deadline");
    tx.commit().await.expect("commit");
    assert!(
        store.due_deadlines(10).await.expect("due").is_empty(),
        "not due before its delay"
    );

    let due = loop {
        let due = store.due_deadlines(10).await.expect("due");
        if !due.is_empty() {
            break due;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never fell due"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(started.elapsed() >= DELAY - Duration::from_millis(5));
    assert_eq!(
        due,
        [DueDeadline {
            order_id: order,
            step: SagaStep::AwaitingStock
        }]
    );
}

/// Postponing pushes every pending deadline back by the same time: one that was due is due no
/// more, and every pending deadline is counted.
pub async fn postponing_pushes_every_pending_deadline_back(store: Arc<dyn OrderStore>) {
    let (due, later) = (new_order_id(), new_order_id());
    set_deadline(&store, due, SagaStep::AwaitingStock, Duration::ZERO).await;
    set_deadline(
        &store,
        later,
        SagaStep::AwaitingPayment,
        Duration::from_secs(3600),
    )
    .await;
    assert_eq!(store.due_deadlines(10).await.expect("due").len(), 1);

    let postponed = store
        .postpone_deadlines(Duration::from_secs(3600))
        .await
        .expect("postpone");

    assert_eq!(postponed, 2);
    assert!(store.due_deadlines(10).await.expect("due").is_empty());
    store
        .postpone_deadlines(Duration::ZERO)
        .await
        .expect("postpone by nothing");
}

/// The orders in flight are those with a pending deadline, due or not: one each, whatever
/// its step; an order whose deadline was cleared (it ended) is no longer counted.
pub async fn the_orders_in_flight_are_those_with_a_pending_deadline(store: Arc<dyn OrderStore>) {
    assert_eq!(store.orders_in_flight().await.expect("count"), 0);
    let (due, later, ended) = (new_order_id(), new_order_id(), new_order_id());
    set_deadline(&store, due, SagaStep::AwaitingStock, Duration::ZERO).await;
    set_deadline(
        &store,
        later,
        SagaStep::AwaitingStock,
        Duration::from_secs(3600),
    )
    .await;
    set_deadline(
        &store,
        later,
        SagaStep::AwaitingPayment,
        Duration::from_secs(3600),
    )
    .await;
    set_deadline(&store, ended, SagaStep::AwaitingPayment, Duration::ZERO).await;
    assert_eq!(store.orders_in_flight().await.expect("count"), 3);

    let mut tx = store.begin().await.expect("begin");
    tx.clear_deadline(ended, None).await.expect("clear");
    tx.commit().await.expect("commit");

    assert_eq!(store.orders_in_flight().await.expect("count"), 2);
}

/// An order has one deadline: setting another replaces step and due time; due deadlines come
/// at most `max` at a time.
pub async fn setting_a_deadline_replaces_the_previous_one(store: Arc<dyn OrderStore>) {
    let (order, other) = (new_order_id(), new_order_id());
    set_deadline(&store, order, SagaStep::AwaitingStock, Duration::ZERO).await;
    set_deadline(
        &store,
        order,
        SagaStep::AwaitingPayment,
        Duration::from_secs(3600),
    )
    .await;
    assert!(store.due_deadlines(10).await.expect("due").is_empty());

    set_deadline(&store, order, SagaStep::AwaitingPayment, Duration::ZERO).await;
    set_deadline(&store, other, SagaStep::AwaitingStock, Duration::ZERO).await;
    let due = store.due_deadlines(10).await.expect("due");
    assert_eq!(due.len(), 2);
    assert!(due.contains(&DueDeadline {
        order_id: order,
        step: SagaStep::AwaitingPayment
    }));
    assert_eq!(store.due_deadlines(1).await.expect("due").len(), 1);
}

/// Clearing the deadline of one step leaves a deadline of another step (a timer that fired
/// late must not remove the next step's deadline); clearing without a step removes any.
pub async fn clearing_a_deadline_for_another_step_leaves_it(store: Arc<dyn OrderStore>) {
    let order = new_order_id();
    set_deadline(&store, order, SagaStep::AwaitingPayment, Duration::ZERO).await;

    let mut tx = store.begin().await.expect("begin");
    tx.clear_deadline(order, Some(SagaStep::AwaitingStock))
        .await
        .expect("clear");
    tx.commit().await.expect("commit");
    assert_eq!(store.due_deadlines(10).await.expect("due").len(), 1);

    let mut tx = store.begin().await.expect("begin");
    tx.clear_deadline(order, Some(SagaStep::AwaitingPayment))
        .await
        .expect("clear");
    tx.commit().await.expect("commit");
    assert!(store.due_deadlines(10).await.expect("due").is_empty());

    set_deadline(&store, order, SagaStep::AwaitingStock, Duration::ZERO).await;
    let mut tx = store.begin().await.expect("begin");
    tx.clear_deadline(order, None).await.expect("clear");
    tx.commit().await.expect("commit");
    assert!(store.due_deadlines(10).await.expect("due").is_empty());
}

/// `follow_decision` enqueues a decision's messages in order, keeps the payment token, and
/// sets or clears the deadline, as the separate calls would; an empty decision writes nothing.
pub async fn a_decision_s_messages_token_and_deadline_are_written_together(
    store: Arc<dyn OrderStore>,
    outbox: Arc<dyn OutboxReader>,
) {
    let order = new_order_id();
    let (first, second) = (message_about(order), message_about(order));
    let mut tx = store.begin().await.expect("begin");
    let placed = DecisionWrites {
        outgoing: &[first.clone(), second.clone()],
        keep_token: Some("tok_visa"),
        deadline: DeadlineChange::Set {
            step: SagaStep::AwaitingStock,
            after: Duration::ZERO,
        },
    };
    tx.follow_decision(order, &placed).await.expect("write");
    tx.commit().await.expect("commit");
    let pending = outbox.pending(10).await.expect("pending");
    let sent: Vec<_> = pending.iter().map(|entry| entry.envelope.clone()).collect();
    assert_eq!(sent, [first, second], "enqueued in order");
    assert_eq!(
        store.due_deadlines(10).await.expect("due"),
        [DueDeadline {
            order_id: order,
            step: SagaStep::AwaitingStock
        }]
    );

    let mut tx = store.begin().await.expect("begin");
    let nothing = DecisionWrites {
        outgoing: &[],
        keep_token: None,
        deadline: DeadlineChange::Keep,
    };
    tx.follow_decision(order, &nothing)
        .await
        .expect("write nothing");
    tx.commit().await.expect("commit");
    assert_eq!(outbox.lag().await.expect("lag"), 2, "nothing more enqueued");
    assert_eq!(store.due_deadlines(10).await.expect("due").len(), 1);

    let mut tx = store.begin().await.expect("begin");
    let cleared_for_another_step = DecisionWrites {
        deadline: DeadlineChange::Clear {
            only: Some(SagaStep::AwaitingPayment),
        },
        ..nothing
    };
    tx.follow_decision(order, &cleared_for_another_step)
        .await
        .expect("clear for another step");
    tx.commit().await.expect("commit");
    assert_eq!(store.due_deadlines(10).await.expect("due").len(), 1, "left");

    let mut tx = store.begin().await.expect("begin");
    let cleared = DecisionWrites {
        deadline: DeadlineChange::Clear { only: None },
        ..nothing
    };
    tx.follow_decision(order, &cleared).await.expect("clear");
    assert_eq!(
        tx.take_payment_token(order).await.expect("take"),
        Some("tok_visa".to_owned()),
        "the token was kept"
    );
    tx.commit().await.expect("commit");
    assert!(store.due_deadlines(10).await.expect("due").is_empty());
}

/// Catalog entries are added or updated, and listed by sku.
pub async fn the_catalog_is_upserted_and_listed_by_sku(store: Arc<dyn OrderStore>) {
    let mouse = product("product-002", "Mouse", 2_599);
    let laptop = product("product-001", "Laptop", 99_900);
    let mut tx = store.begin().await.expect("begin");
    tx.upsert_product(&mouse).await.expect("upsert");
    tx.upsert_product(&laptop).await.expect("upsert");
    tx.commit().await.expect("commit");
    assert_eq!(
        store.products().await.expect("products"),
        [laptop.clone(), mouse.clone()]
    );

    let cheaper = product("product-001", "Laptop Air", 89_900);
    let mut tx = store.begin().await.expect("begin");
    tx.upsert_product(&cheaper).await.expect("upsert");
    tx.commit().await.expect("commit");
    assert_eq!(store.products().await.expect("products"), [cheaper, mouse]);
}

/// Nothing written in a transaction that was dropped is stored.
pub async fn a_dropped_order_transaction_stores_nothing(store: Arc<dyn OrderStore>) {
    let order = new_order_id();
    let mut tx = store.begin().await.expect("begin");
    tx.append(order, 0, &[message_about(order)])
        .await
        .expect("append");
    tx.set_deadline(order, SagaStep::AwaitingStock, Duration::ZERO)
        .await
        .expect("set deadline");
    let request = IdempotentRequest {
        request_hash: "hash".into(),
        order_id: order,
    };
    tx.remember_request(&keys::key("anonymous:a@b.co", "key"), &request, keys::DAY)
        .await
        .expect("remember");
    tx.keep_payment_token(order, "tok_visa")
        .await
        .expect("keep token");
    tx.upsert_product(&product("product-001", "Laptop", 1))
        .await
        .expect("upsert");
    drop(tx);

    assert!(store.load(order).await.expect("load").is_empty());
    assert!(store.due_deadlines(10).await.expect("due").is_empty());
    assert_eq!(
        store
            .idempotent_request(&keys::key("anonymous:a@b.co", "key"), keys::DAY)
            .await
            .expect("key"),
        None
    );
    assert!(store.products().await.expect("products").is_empty());
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.take_payment_token(order).await.expect("take"), None);
}

async fn set_deadline(
    store: &Arc<dyn OrderStore>,
    order: OrderId,
    step: SagaStep,
    after: Duration,
) {
    let mut tx = store.begin().await.expect("begin");
    tx.set_deadline(order, step, after)
        .await
        .expect("set deadline");
    tx.commit().await.expect("commit");
}

fn product(product_id: &str, name: &str, price_minor: i64) -> Product {
    Product {
        sku: sku(product_id),
        name: name.into(),
        price: Money::new(price_minor, "USD"),
    }
}
