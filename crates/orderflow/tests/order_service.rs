//! The order service's consumer against its real SQLite store: a receive's worth of replies
//! decided in one transaction, and the one at fault found alone.

use std::sync::Arc;

use contracts::value::OrderId;
use contracts::{Envelope, Message, PaymentSucceeded, Queue, StockReserved};
use order_domain::OrderStatus;
use order_service::{OrderRequest, OrderService, RequestedLine, SagaDeadlines};
use store_sqlite::{SqliteDatabase, SqliteOrderStore};
use tempfile::TempDir;
use transport::{HandleError, Handler as _};
use uuid::Uuid;

struct TestApp {
    service: OrderService,
    _data_dir: TempDir,
}

async fn spawn_app() -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let database = SqliteDatabase::open(data_dir.path(), Queue::Order)
        .await
        .expect("open the order database");
    let service = OrderService::new(
        Arc::new(SqliteOrderStore::new(database)),
        SagaDeadlines::default(),
    );
    service.seed_demo_catalog().await.expect("the catalog");
    TestApp {
        service,
        _data_dir: data_dir,
    }
}

impl TestApp {
    async fn place(&self) -> OrderId {
        let request = OrderRequest {
            customer_email: "ada@example.com".into(),
            items: vec![RequestedLine {
                product_id: "product-002".into(),
                quantity: 2,
            }],
            payment_token: None,
        };
        self.service
            .place_order(&request, None)
            .await
            .expect("placed")
            .order_id
    }

    async fn status(&self, order_id: OrderId) -> OrderStatus {
        self.service
            .order(order_id)
            .await
            .expect("read")
            .expect("the order")
            .status
    }

    async fn event_types(&self, order_id: OrderId) -> Vec<String> {
        self.service
            .events(order_id)
            .await
            .expect("events")
            .into_iter()
            .map(|event| event.message_type)
            .collect()
    }

    async fn batch(&self, replies: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        self.service.handle_batch(replies).await
    }
}

fn reply(message: impl Into<Message>) -> Envelope {
    Envelope::build(Uuid::now_v7(), &message.into()).at(time::OffsetDateTime::now_utc())
}

fn reserved(order_id: OrderId) -> Envelope {
    reply(StockReserved { order_id })
}

fn paid(order_id: OrderId) -> Envelope {
    reply(PaymentSucceeded {
        order_id,
        payment_id: Uuid::now_v7(),
        amount_minor: 5_198,
    })
}

#[tokio::test]
async fn a_batch_of_replies_moves_each_order_on_once_whatever_it_repeats() {
    let app = spawn_app().await;
    let (first, second) = (app.place().await, app.place().await);
    let first_reserved = reserved(first);
    let (second_reserved, first_paid) = (reserved(second), paid(first));

    let outcomes = app
        .batch(&[
            &first_reserved,
            &second_reserved,
            &first_paid,
            &first_reserved,
        ])
        .await;

    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(app.status(first).await, OrderStatus::Completed);
    assert_eq!(app.status(second).await, OrderStatus::InventoryReserved);
    assert_eq!(
        app.event_types(first).await,
        [
            "order.placed",
            "order.inventory_reserved",
            "order.paid",
            "order.completed"
        ]
    );
    let again = app.batch(&[&second_reserved, &first_paid]).await;
    assert!(again.iter().all(Result::is_ok), "{again:?}");
    assert_eq!(
        app.event_types(second).await,
        ["order.placed", "order.inventory_reserved"],
        "a redelivered batch changes nothing"
    );
}

#[tokio::test]
async fn a_reply_that_cannot_happen_is_rejected_alone_and_its_batch_mates_go_through() {
    let app = spawn_app().await;
    let (early, fine) = (app.place().await, app.place().await);
    // Paid before its stock was reserved: a bug somewhere, never a step to take.
    let (too_early, fine_reserved) = (paid(early), reserved(fine));

    let outcomes = app.batch(&[&too_early, &fine_reserved]).await;

    assert!(
        matches!(outcomes[0], Err(HandleError::Rejected(_))),
        "{outcomes:?}"
    );
    assert!(outcomes[1].is_ok(), "{outcomes:?}");
    assert_eq!(app.status(early).await, OrderStatus::Pending);
    assert_eq!(app.status(fine).await, OrderStatus::InventoryReserved);
}
