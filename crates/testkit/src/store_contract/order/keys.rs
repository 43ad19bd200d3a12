//! Idempotency keys (scoped to one client, expiring by the database's clock) and the payment
//! tokens kept apart from the order's events until their charge.

use std::sync::Arc;
use std::time::Duration;

use store::order::{IdempotencyKey, IdempotentRequest, OrderStore};

use super::super::{assert_conflict, new_order_id};

/// A key lifetime no check outlives.
pub(super) const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// A key lifetime a check waits out.
const SHORT: Duration = Duration::from_millis(200);

pub(super) fn key(scope: &str, key: &str) -> IdempotencyKey {
    IdempotencyKey {
        scope: scope.to_owned(),
        key: key.to_owned(),
    }
}

fn request(hash: &str) -> IdempotentRequest {
    IdempotentRequest {
        request_hash: hash.to_owned(),
        order_id: new_order_id(),
    }
}

async fn remember(
    store: &Arc<dyn OrderStore>,
    key: &IdempotencyKey,
    request: &IdempotentRequest,
    ttl: Duration,
) -> store::Result<()> {
    let mut tx = store.begin().await.expect("begin");
    tx.remember_request(key, request, ttl).await?;
    tx.commit().await
}

/// An idempotency key is remembered with its request; taking it again is a conflict.
pub async fn an_idempotency_key_is_taken_once(store: Arc<dyn OrderStore>) {
    let first = request("hash-1");
    let ada = key("customer:ada@example.com", "key-1");
    remember(&store, &ada, &first, DAY).await.expect("remember");
    let read = |key: IdempotencyKey| {
        let store = store.clone();
        async move { store.idempotent_request(&key, DAY).await.expect("read key") }
    };
    assert_eq!(read(ada.clone()).await, Some(first));
    assert_eq!(read(key("customer:ada@example.com", "key-2")).await, None);

    let mut tx = store.begin().await.expect("begin");
    assert_conflict(
        tx.remember_request(&ada, &request("hash-2"), DAY).await,
        "remember a key that is taken",
    );
}

/// The same key sent by two clients is two keys: each is remembered with its own request.
pub async fn the_same_idempotency_key_in_two_scopes_is_two_keys(store: Arc<dyn OrderStore>) {
    let ada = key("customer:ada@example.com", "key-1");
    let bob = key("customer:bob@example.com", "key-1");
    let (adas, bobs) = (request("hash-ada"), request("hash-bob"));
    remember(&store, &ada, &adas, DAY).await.expect("ada's");
    remember(&store, &bob, &bobs, DAY).await.expect("bob's");
    assert_eq!(
        store.idempotent_request(&ada, DAY).await.expect("read"),
        Some(adas)
    );
    assert_eq!(
        store.idempotent_request(&bob, DAY).await.expect("read"),
        Some(bobs)
    );
}

/// A key sent longer ago than its lifetime (by the database's clock) is as good as never
/// sent: it is not read, and a new request takes it over.
pub async fn an_expired_idempotency_key_is_not_read_and_can_be_taken_again(
    store: Arc<dyn OrderStore>,
) {
    let taken = key("anonymous:ada@example.com", "key-1");
    let first = request("hash-1");
    remember(&store, &taken, &first, SHORT)
        .await
        .expect("remember");
    tokio::time::sleep(SHORT + Duration::from_millis(100)).await;

    assert_eq!(
        store.idempotent_request(&taken, SHORT).await.expect("read"),
        None
    );
    assert_eq!(
        store.idempotent_request(&taken, DAY).await.expect("read"),
        Some(first),
        "under a longer lifetime the key still holds"
    );
    let mut tx = store.begin().await.expect("begin");
    assert_conflict(
        tx.remember_request(&taken, &request("hash-2"), DAY).await,
        "take over a key that has not expired",
    );
    drop(tx);
    let second = request("hash-2");
    remember(&store, &taken, &second, SHORT)
        .await
        .expect("take over an expired key");
    assert_eq!(
        store.idempotent_request(&taken, SHORT).await.expect("read"),
        Some(second)
    );
}

/// Purging deletes the keys older than the lifetime, and only them.
pub async fn purging_deletes_only_expired_idempotency_keys(store: Arc<dyn OrderStore>) {
    let old = key("anonymous:ada@example.com", "old");
    let new = key("anonymous:ada@example.com", "new");
    remember(&store, &old, &request("hash-old"), DAY)
        .await
        .expect("remember");
    tokio::time::sleep(SHORT + Duration::from_millis(100)).await;
    let recent = request("hash-new");
    remember(&store, &new, &recent, DAY)
        .await
        .expect("remember");

    assert_eq!(store.purge_idempotency_keys(SHORT).await.expect("purge"), 1);

    assert_eq!(
        store.idempotent_request(&old, DAY).await.expect("read"),
        None
    );
    assert_eq!(
        store.idempotent_request(&new, DAY).await.expect("read"),
        Some(recent)
    );
}

/// A payment token is kept with its order until it is taken, once; a transaction that took
/// it and was dropped leaves it kept.
pub async fn a_payment_token_is_kept_until_it_is_taken_once(store: Arc<dyn OrderStore>) {
    let (order, other) = (new_order_id(), new_order_id());
    let mut tx = store.begin().await.expect("begin");
    tx.keep_payment_token(order, "tok_visa")
        .await
        .expect("keep");
    tx.keep_payment_token(other, "tok_chargeDeclined")
        .await
        .expect("keep");
    tx.commit().await.expect("commit");

    let mut dropped = store.begin().await.expect("begin");
    assert_eq!(
        dropped.take_payment_token(order).await.expect("take"),
        Some("tok_visa".to_owned())
    );
    drop(dropped);

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.take_payment_token(order).await.expect("take"),
        Some("tok_visa".to_owned())
    );
    assert_eq!(
        tx.take_payment_token(order).await.expect("take again"),
        None
    );
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.take_payment_token(order).await.expect("take"), None);
    assert_eq!(
        tx.take_payment_token(other).await.expect("take"),
        Some("tok_chargeDeclined".to_owned())
    );
}
