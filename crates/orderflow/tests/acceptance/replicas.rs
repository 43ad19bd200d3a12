//! Two order services on one database, as two replicas of the order process: each decides a
//! reply on the order as it last committed it, and when the other has moved the order on
//! since, the reply is decided again on the order as stored, never on the stale state.

use std::sync::Arc;

use contracts::value::{OrderId, Sku};
use contracts::{Envelope, Message, PaymentSucceeded, StockInsufficient, StockReserved};
use order_domain::OrderStatus;
use order_service::{OrderRequest, OrderService, RequestedLine, SagaDeadlines};
use store::OutboxReader as _;
use store_sqlite::{SqliteDatabase, SqliteOrderStore, SqliteOutbox};
use time::OffsetDateTime;
use transport::Handler as _;
use uuid::Uuid;

struct Replicas {
    _dir: tempfile::TempDir,
    outbox: SqliteOutbox,
    first: OrderService,
    second: OrderService,
}

impl Replicas {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = SqliteDatabase::open(dir.path(), contracts::Queue::Order)
            .await
            .expect("the order database");
        let store = Arc::new(SqliteOrderStore::new(database.clone()));
        let first = OrderService::new(store.clone(), SagaDeadlines::default());
        let second = OrderService::new(store, SagaDeadlines::default());
        first.seed_demo_catalog().await.expect("seed the catalog");
        Self {
            _dir: dir,
            outbox: SqliteOutbox::new(database),
            first,
            second,
        }
    }

    /// An order placed through the first replica, which keeps it as placed.
    async fn place(&self) -> OrderId {
        let request = OrderRequest {
            customer_email: "ada@example.com".into(),
            items: vec![RequestedLine {
                product_id: "product-002".into(),
                quantity: 1,
            }],
            payment_token: None,
        };
        let placed = self
            .first
            .place_order(&request, None)
            .await
            .expect("placed");
        placed.order_id
    }

    /// The types of the messages sent about `order_id` so far, oldest first.
    async fn sent(&self, order_id: OrderId) -> Vec<String> {
        let pending = self.outbox.pending(1000).await.expect("the outbox");
        pending
            .iter()
            .filter(|entry| entry.envelope.correlation_id == order_id.as_uuid())
            .map(|entry| entry.envelope.message_type.clone())
            .collect()
    }
}

fn reply(message: impl Into<Message>) -> Envelope {
    Envelope::build(Uuid::now_v7(), &message.into()).at(OffsetDateTime::now_utc())
}

async fn status(service: &OrderService, order_id: OrderId) -> OrderStatus {
    let order = service.order(order_id).await.expect("read").expect("found");
    order.status
}

#[tokio::test]
async fn a_reply_to_an_order_another_replica_moved_on_is_decided_on_the_order_as_stored() {
    let replicas = Replicas::start().await;
    let order_id = replicas.place().await;
    replicas
        .second
        .handle(&reply(StockReserved { order_id }))
        .await
        .expect("the second replica takes the reservation");

    // The first still holds the order as placed, where a payment is an illegal step.
    replicas
        .first
        .handle(&reply(PaymentSucceeded {
            order_id,
            payment_id: Uuid::now_v7(),
            amount_minor: 2_599,
        }))
        .await
        .expect("the payment is handled");

    assert_eq!(
        status(&replicas.first, order_id).await,
        OrderStatus::Completed
    );
}

#[tokio::test]
async fn a_stale_state_that_would_append_an_event_meets_a_conflict_and_the_stored_one_decides() {
    let replicas = Replicas::start().await;
    let order_id = replicas.place().await;
    replicas
        .second
        .handle(&reply(StockInsufficient {
            order_id,
            product_id: Sku::parse("product-002").expect("a sku"),
            requested: 1,
            available: 0,
        }))
        .await
        .expect("the second replica cancels the order");

    // As placed, the first would confirm the stock and charge; cancelled, it releases.
    replicas
        .first
        .handle(&reply(StockReserved { order_id }))
        .await
        .expect("the late reservation is handled");

    assert_eq!(
        status(&replicas.first, order_id).await,
        OrderStatus::Cancelled
    );
    let sent = replicas.sent(order_id).await;
    assert!(!sent.iter().any(|t| t == "payment.charge"), "{sent:?}");
    assert_eq!(
        sent.last().map(String::as_str),
        Some("inventory.release"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_stale_state_that_would_change_nothing_is_not_trusted_with_the_decision() {
    let replicas = Replicas::start().await;
    let order_id = replicas.place().await;
    replicas
        .first
        .handle(&reply(StockReserved { order_id }))
        .await
        .expect("the first replica takes the reservation");
    replicas
        .second
        .cancel_order(order_id, None)
        .await
        .expect("the customer cancels through the second replica");
    let released_by_the_cancel = replicas.sent(order_id).await;

    // Reserved, as the first holds it, a repeated reservation changes nothing; cancelled,
    // it is given back.
    replicas
        .first
        .handle(&reply(StockReserved { order_id }))
        .await
        .expect("the repeated reservation is handled");

    let sent = replicas.sent(order_id).await;
    assert_eq!(sent.len(), released_by_the_cancel.len() + 1, "{sent:?}");
    assert_eq!(
        sent.last().map(String::as_str),
        Some("inventory.release"),
        "{sent:?}"
    );
}

#[tokio::test]
async fn a_stale_state_meets_its_conflict_before_it_looks_for_a_token_already_taken() {
    let replicas = Replicas::start().await;
    let order_id = replicas.place().await;
    replicas
        .second
        .handle(&reply(StockReserved { order_id }))
        .await
        .expect("the second replica takes the reservation and sends the charge");

    // As placed, the first would charge again, but the token went with the first charge. Its
    // events are appended before the token is looked for, so the stale version is a conflict
    // first, and on the order as stored a repeated reservation changes nothing.
    replicas
        .first
        .handle(&reply(StockReserved { order_id }))
        .await
        .expect("the repeated reservation is handled, not failed");

    assert_eq!(
        status(&replicas.first, order_id).await,
        OrderStatus::InventoryReserved
    );
    let sent = replicas.sent(order_id).await;
    let charges = sent.iter().filter(|t| *t == "payment.charge").count();
    assert_eq!(charges, 1, "{sent:?}");
}
