//! Projecting events into views, however they arrive.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use contracts::value::OrderId;
use contracts::{Envelope, StockReleased};
use query_domain::OrderView;
use query_service::QueryService;
use query_service::cache::MemoryViewCache;
use store::query::{QueryStore as _, ViewCache};
use transport::{HandleError, Handler as _};

use crate::helpers::{at, completed_order, envelope, new_order_id, placed, spawn_app};

#[tokio::test]
async fn an_orders_events_in_any_order_and_each_twice_give_a_completed_view() {
    let app = spawn_app().await;
    let order_id = new_order_id();
    let events = completed_order(order_id, "ada@example.com", "product-002", at(0));
    let reversed: Vec<Envelope> = events.iter().rev().cloned().collect();

    app.deliver(&reversed).await;
    app.deliver(&events).await;

    let view = app
        .service
        .order(order_id)
        .await
        .expect("read the view")
        .expect("a view");
    assert_eq!(view.status, "COMPLETED");
    assert_eq!(view.customer_email, "ada@example.com");
    assert_eq!(view.items.len(), 1);
    assert_eq!(view.items[0].product_id, "product-002");
    assert_eq!(view.items[0].line_total, "51.98");
    assert_eq!(view.total, "51.98");
    let steps: Vec<&str> = view
        .history
        .iter()
        .map(|entry| entry.step.as_str())
        .collect();
    assert_eq!(
        steps,
        [
            "order.placed",
            "order.inventory_reserved",
            "order.paid",
            "order.completed"
        ]
    );
}

#[tokio::test]
async fn an_order_has_no_view_until_its_placed_event_arrives() {
    let app = spawn_app().await;
    let order_id = new_order_id();
    let events = completed_order(order_id, "ada@example.com", "product-002", at(0));

    app.deliver(&events[1..3]).await;
    assert_eq!(
        app.service.order(order_id).await.expect("read the view"),
        None
    );

    app.deliver(&events[..1]).await;
    let view = app
        .service
        .order(order_id)
        .await
        .expect("read the view")
        .expect("a view");
    assert_eq!(view.status, "PAID");
    assert_eq!(view.history.len(), 3);
}

#[tokio::test]
async fn messages_that_are_not_order_events_are_acknowledged_and_ignored() {
    let app = spawn_app().await;
    let order_id = new_order_id();

    let outcome = app
        .service
        .handle(&envelope(StockReleased { order_id }, at(0)))
        .await;

    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(
        app.store.order_ids().await.expect("read order ids"),
        Vec::<OrderId>::new()
    );
}

#[tokio::test]
async fn an_order_event_that_cannot_be_decoded_is_rejected_and_kept_nowhere() {
    let app = spawn_app().await;
    let mut broken = placed(new_order_id(), "ada@example.com", "product-002", at(0));
    broken.payload = serde_json::json!({"order_id": broken.correlation_id, "items": "not a list"});

    let outcome = app.service.handle(&broken).await;

    assert!(
        matches!(outcome, Err(HandleError::Rejected(_))),
        "{outcome:?}"
    );
    assert_eq!(
        app.store.order_ids().await.expect("read order ids"),
        Vec::<OrderId>::new()
    );
}

#[tokio::test]
async fn a_message_of_a_type_nobody_knows_is_rejected_not_ignored() {
    let app = spawn_app().await;
    let order_id = new_order_id();
    let unknown = Envelope {
        message_type: "shipment.teleported".into(),
        ..envelope(StockReleased { order_id }, at(0))
    };

    let outcome = app.service.handle(&unknown).await;

    assert!(
        matches!(outcome, Err(HandleError::Rejected(_))),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_batch_of_two_orders_events_each_twice_gives_both_views() {
    let app = spawn_app().await;
    let (first, second) = (new_order_id(), new_order_id());
    let mut events = completed_order(first, "ada@example.com", "product-002", at(0));
    events.extend(completed_order(
        second,
        "bob@example.com",
        "product-001",
        at(1),
    ));
    events.extend(events.clone());
    let batch: Vec<&Envelope> = events.iter().collect();

    let outcomes = app.service.handle_batch(&batch).await;

    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    for (order_id, email) in [(first, "ada@example.com"), (second, "bob@example.com")] {
        let view = app
            .service
            .order(order_id)
            .await
            .expect("read the view")
            .expect("a view");
        assert_eq!(view.status, "COMPLETED");
        assert_eq!(view.customer_email, email);
        assert_eq!(view.history.len(), 4, "each event once: {:?}", view.history);
    }
}

#[tokio::test]
async fn a_poison_event_in_a_batch_is_rejected_alone() {
    let app = spawn_app().await;
    let good = new_order_id();
    let mut broken = placed(new_order_id(), "eve@example.com", "product-002", at(0));
    broken.payload = serde_json::json!({"order_id": broken.correlation_id, "items": "not a list"});
    let events = completed_order(good, "ada@example.com", "product-002", at(0));
    let mut batch: Vec<&Envelope> = events.iter().collect();
    batch.insert(1, &broken);

    let outcomes = app.service.handle_batch(&batch).await;

    assert!(
        matches!(outcomes[1], Err(HandleError::Rejected(_))),
        "{outcomes:?}"
    );
    assert_eq!(outcomes.iter().filter(|outcome| outcome.is_ok()).count(), 4);
    assert_eq!(
        app.store.order_ids().await.expect("read order ids"),
        vec![good]
    );
}

/// A cache whose writes are lost while `lose` is set: the process died after its commit and
/// before the cache heard of the view.
#[derive(Default)]
struct DyingCache {
    inner: MemoryViewCache,
    lose: AtomicBool,
}

#[async_trait]
impl ViewCache for DyingCache {
    async fn get(&self, order_id: OrderId) -> Option<OrderView> {
        self.inner.get(order_id).await
    }

    async fn put(&self, view: &OrderView) {
        if !self.lose.load(Ordering::SeqCst) {
            self.inner.put(view).await;
        }
    }
}

#[tokio::test]
async fn a_redelivered_event_puts_its_view_in_the_cache_that_missed_it_before_a_crash() {
    let app = spawn_app().await;
    let cache = Arc::new(DyingCache::default());
    let service = QueryService::new(app.store.clone()).with_cache(cache.clone());
    let order_id = new_order_id();
    let events = completed_order(order_id, "ada@example.com", "product-002", at(0));
    let (completed, before) = events.split_last().expect("events");
    for event in before {
        service.handle(event).await.expect("projected");
    }
    let cached = |service: &QueryService| {
        let service = service.clone();
        async move {
            service
                .order(order_id)
                .await
                .expect("read")
                .expect("a view")
        }
    };
    assert_eq!(cached(&service).await.status, "PAID");

    // Committed, then the process dies before its cache write; the broker delivers again.
    cache.lose.store(true, Ordering::SeqCst);
    service.handle(completed).await.expect("projected");
    assert_eq!(cached(&service).await.status, "PAID", "the cache missed it");
    cache.lose.store(false, Ordering::SeqCst);
    service
        .handle(completed)
        .await
        .expect("a duplicate is acknowledged");

    assert_eq!(cached(&service).await.status, "COMPLETED");
    let kept = app.store.view(order_id).await.expect("read").expect("view");
    assert_eq!(kept.history.len(), 4, "the duplicate kept nothing new");
}
