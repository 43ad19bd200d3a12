//! Orders placed by a build before payment tokens were kept apart from the event log: their
//! stored `order.placed` (version 2) still holds the token. Such an order, still waiting for
//! its stock when the new build starts, is charged with that token, and its events are shown
//! without it.

use std::sync::Arc;

use contracts::value::OrderId;
use contracts::{Envelope, Message, StockReserved};
use order_service::{OrderService, SagaDeadlines};
use serde_json::json;
use store::OutboxReader as _;
use store::order::OrderStore as _;
use store_sqlite::{SqliteDatabase, SqliteOrderStore, SqliteOutbox};
use time::OffsetDateTime;
use transport::Handler as _;
use uuid::Uuid;

/// `order.placed` as version 2 stored it, with its payment token.
fn stored_v2_order_placed(order_id: OrderId) -> Envelope {
    serde_json::from_value(json!({
        "message_id": Uuid::now_v7(),
        "type": "order.placed",
        "schema_version": 2,
        "correlation_id": order_id,
        "causation_id": null,
        "occurred_at": "2026-01-02T03:04:05Z",
        "traceparent": null,
        "payload": {
            "order_id": order_id,
            "customer_email": "ada@example.com",
            "items": [{"product_id": "product-002", "name": "Mouse", "quantity": 1, "unit_price_minor": 2599}],
            "total_minor": 2599,
            "currency": "USD",
            "payment_token": "tok_chargeDeclined",
            "placed_at": "2026-01-02T03:04:05Z"
        }
    }))
    .expect("a stored v2 envelope")
}

#[tokio::test]
async fn an_order_placed_before_version_3_is_charged_with_the_token_its_stored_event_holds() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let database = SqliteDatabase::open(data_dir.path(), contracts::Queue::Order)
        .await
        .expect("the order database");
    let store = Arc::new(SqliteOrderStore::new(database.clone()));
    let service = OrderService::new(store.clone(), SagaDeadlines::default());
    let order_id = OrderId::new(Uuid::now_v7());
    let placed = stored_v2_order_placed(order_id);
    let mut tx = store.begin().await.expect("begin");
    tx.append(order_id, 0, std::slice::from_ref(&placed))
        .await
        .expect("append");
    tx.commit().await.expect("commit");

    let reserved = Envelope::build(Uuid::now_v7(), &Message::from(StockReserved { order_id }))
        .at(OffsetDateTime::now_utc());
    service
        .handle(&reserved)
        .await
        .expect("the reservation is handled");

    let sent = SqliteOutbox::new(database)
        .pending(100)
        .await
        .expect("the outbox");
    let charge = sent
        .iter()
        .find_map(|entry| match entry.envelope.decode() {
            Ok(Message::ChargePayment(charge)) => Some(charge),
            _ => None,
        })
        .expect("a charge is sent");
    assert_eq!(charge.payment_token, "tok_chargeDeclined");
    let shown = placed.to_current().expect("upcast");
    assert_eq!(shown.schema_version, 3);
    assert!(
        !shown.payload.to_string().contains("tok_"),
        "{}",
        shown.payload
    );
}
