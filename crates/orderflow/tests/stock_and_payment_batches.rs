//! The inventory and payment services' consumers against their real SQLite stores: a
//! receive's worth of messages handled in one transaction, each answered as if alone.

use std::sync::Arc;

use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{
    ChargePayment, Envelope, Message, OrderCompleted, Queue, RefundPayment, ReleaseStock,
    ReserveStock, StockLine,
};
use inventory_domain::StockLevel;
use inventory_service::InventoryService;
use payment_domain::PaymentStatus;
use payment_service::{
    DECLINED_TOKEN, HELD_TOKEN, PaymentService, SimulatedGateway, SimulatedGatewaySettings,
};
use store::OutboxReader as _;
use store_sqlite::{SqliteDatabase, SqliteInventoryStore, SqliteOutbox, SqlitePaymentStore};
use tempfile::TempDir;
use transport::{HandleError, Handler};
use uuid::Uuid;

fn envelope(message: impl Into<Message>) -> Envelope {
    Envelope::build(Uuid::now_v7(), &message.into()).at(time::OffsetDateTime::now_utc())
}

fn order() -> OrderId {
    OrderId::new(Uuid::now_v7())
}

fn sku(raw: &str) -> Sku {
    Sku::parse(raw).expect("a valid sku")
}

/// The replies a service's outbox holds, as `(type, order)`, in the order they were written.
async fn replies(outbox: &SqliteOutbox) -> Vec<(String, OrderId)> {
    outbox
        .pending(100)
        .await
        .expect("the outbox")
        .into_iter()
        .map(|entry| {
            (
                entry.envelope.message_type,
                OrderId::new(entry.envelope.correlation_id),
            )
        })
        .collect()
}

fn all_ok(outcomes: &[Result<(), HandleError>]) -> bool {
    outcomes.iter().all(Result::is_ok)
}

/// A batch of messages handled before was handled again, and added no reply to the
/// `replies_before` the outbox held.
async fn assert_no_news(
    outcomes: &[Result<(), HandleError>],
    outbox: &SqliteOutbox,
    replies_before: usize,
) {
    assert!(all_ok(outcomes), "{outcomes:?}");
    assert_eq!(
        replies(outbox).await.len(),
        replies_before,
        "a redelivery is no news"
    );
}

struct Inventory {
    service: InventoryService,
    outbox: SqliteOutbox,
    _data_dir: TempDir,
}

async fn inventory(stock: &[(&str, u32)]) -> Inventory {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let database = SqliteDatabase::open(data_dir.path(), Queue::Inventory)
        .await
        .expect("open the inventory database");
    let service = InventoryService::new(Arc::new(SqliteInventoryStore::new(database.clone())));
    let stock: Vec<(Sku, u32)> = stock.iter().map(|&(s, n)| (sku(s), n)).collect();
    service.seed_stock(&stock).await.expect("the stock");
    Inventory {
        service,
        outbox: SqliteOutbox::new(database),
        _data_dir: data_dir,
    }
}

impl Inventory {
    async fn levels(&self) -> Vec<StockLevel> {
        let levels = self.service.stock_levels().await.expect("stock levels");
        levels.into_iter().map(|(_, level)| level).collect()
    }
}

fn reserve(order_id: OrderId, lines: &[(&str, u32)]) -> Envelope {
    envelope(ReserveStock {
        order_id,
        items: lines
            .iter()
            .map(|&(product, units)| StockLine {
                product_id: sku(product),
                quantity: Quantity::new(units).expect("a valid quantity"),
            })
            .collect(),
    })
}

fn completed(order_id: OrderId) -> Envelope {
    envelope(OrderCompleted {
        order_id,
        customer_email: Email::parse("ada@example.com").expect("an email"),
        items: Vec::new(),
        total_minor: 100,
        currency: "EUR".into(),
        completed_at: time::OffsetDateTime::now_utc(),
    })
}

#[tokio::test]
async fn a_batch_of_stock_requests_answers_each_as_if_alone_and_a_short_order_takes_nothing() {
    let app = inventory(&[("product-001", 5), ("product-002", 2)]).await;
    let (first, short, last, sold) = (order(), order(), order(), order());
    let first_reserve = reserve(first, &[("product-001", 2)]);
    let sold_reserve = reserve(sold, &[("product-002", 1)]);

    let outcomes = app
        .service
        .handle_batch(&[
            &first_reserve,
            // product-001 is served, product-002 is short: nothing of it may stay held.
            &reserve(short, &[("product-001", 3), ("product-002", 5)]),
            &reserve(last, &[("product-001", 3), ("product-002", 1)]),
            &sold_reserve,
            &completed(sold),
            &first_reserve,
        ])
        .await;

    assert!(all_ok(&outcomes), "{outcomes:?}");
    assert_eq!(
        replies(&app.outbox).await,
        [
            ("inventory.reserved".to_owned(), first),
            ("inventory.insufficient".to_owned(), short),
            ("inventory.reserved".to_owned(), last),
            ("inventory.reserved".to_owned(), sold),
        ],
        "one reply each, none for the completion or the repeated message"
    );
    assert_eq!(
        app.levels().await,
        [
            StockLevel {
                available: 0,
                reserved: 5,
                ..StockLevel::new(5)
            },
            StockLevel {
                available: 0,
                reserved: 1,
                sold: 1,
                ..StockLevel::new(2)
            },
        ]
    );

    let again = app
        .service
        .handle_batch(&[&first_reserve, &sold_reserve])
        .await;
    assert_no_news(&again, &app.outbox, 4).await;
}

#[tokio::test]
async fn a_message_the_inventory_does_not_take_is_rejected_alone_and_its_batch_mates_go_through() {
    let app = inventory(&[("product-001", 5)]).await;
    let (kept, released) = (order(), order());
    let stray = envelope(RefundPayment { order_id: kept });

    let outcomes = app
        .service
        .handle_batch(&[
            &reserve(kept, &[("product-001", 1)]),
            &stray,
            &reserve(released, &[("product-001", 2)]),
            &envelope(ReleaseStock { order_id: released }),
        ])
        .await;

    assert!(outcomes[0].is_ok() && outcomes[2].is_ok() && outcomes[3].is_ok());
    assert!(
        matches!(outcomes[1], Err(HandleError::Rejected(_))),
        "{outcomes:?}"
    );
    assert_eq!(
        replies(&app.outbox).await,
        [
            ("inventory.reserved".to_owned(), kept),
            ("inventory.reserved".to_owned(), released),
            ("inventory.released".to_owned(), released),
        ]
    );
    assert_eq!(
        app.levels().await,
        [StockLevel {
            available: 4,
            reserved: 1,
            ..StockLevel::new(5)
        }]
    );
}

struct Payments {
    service: PaymentService,
    store: SqlitePaymentStore,
    outbox: SqliteOutbox,
    _data_dir: TempDir,
}

async fn payments() -> Payments {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let database = SqliteDatabase::open(data_dir.path(), Queue::Payment)
        .await
        .expect("open the payment database");
    let store = SqlitePaymentStore::new(database.clone());
    let gateway = SimulatedGateway::new(SimulatedGatewaySettings::default());
    Payments {
        service: PaymentService::new(Arc::new(store.clone()), Arc::new(gateway)),
        store,
        outbox: SqliteOutbox::new(database),
        _data_dir: data_dir,
    }
}

impl Payments {
    async fn status(&self, order_id: OrderId) -> Option<PaymentStatus> {
        use store::payment::PaymentStore as _;
        let payment = self.store.payment(order_id).await.expect("read payment");
        payment.map(|payment| payment.status)
    }
}

fn charge(order_id: OrderId, token: &str) -> Envelope {
    envelope(ChargePayment {
        order_id,
        amount_minor: 5_198,
        currency: "EUR".into(),
        payment_token: token.into(),
    })
}

fn refund(order_id: OrderId) -> Envelope {
    envelope(RefundPayment { order_id })
}

#[tokio::test]
async fn a_batch_of_charges_answers_each_and_a_gateway_that_does_not_answer_fails_only_its_own() {
    let app = payments().await;
    let (paid, declined, held, never_paid) = (order(), order(), order(), order());
    let paid_charge = charge(paid, "tok_visa");

    let outcomes = app
        .service
        .handle_batch(&[
            &paid_charge,
            &charge(declined, DECLINED_TOKEN),
            &charge(held, HELD_TOKEN),
            &refund(never_paid),
        ])
        .await;

    assert!(outcomes[0].is_ok() && outcomes[1].is_ok() && outcomes[3].is_ok());
    assert!(
        matches!(outcomes[2], Err(HandleError::Unavailable(_))),
        "{outcomes:?}"
    );
    assert_eq!(
        replies(&app.outbox).await,
        [
            ("payment.succeeded".to_owned(), paid),
            ("payment.failed".to_owned(), declined),
        ],
        "nothing to answer a refund of nothing, nor a charge the gateway did not answer"
    );
    assert_eq!(app.status(paid).await, Some(PaymentStatus::Succeeded));
    assert_eq!(app.status(declined).await, Some(PaymentStatus::Failed));
    assert_eq!(
        app.status(held).await,
        Some(PaymentStatus::Pending),
        "recorded before the gateway was called, so a retry charges under the same key"
    );
    assert_eq!(app.status(never_paid).await, None);

    let again = app
        .service
        .handle_batch(&[&paid_charge, &paid_charge])
        .await;
    assert_no_news(&again, &app.outbox, 2).await;
}

#[tokio::test]
async fn a_charge_and_its_refund_in_one_batch_are_taken_in_turn_and_nothing_is_kept() {
    let app = payments().await;
    let cancelled = order();

    let outcomes = app
        .service
        .handle_batch(&[&charge(cancelled, "tok_visa"), &refund(cancelled)])
        .await;

    assert!(all_ok(&outcomes), "{outcomes:?}");
    assert_eq!(app.status(cancelled).await, Some(PaymentStatus::Refunded));
    assert_eq!(
        replies(&app.outbox).await,
        [
            ("payment.succeeded".to_owned(), cancelled),
            ("payment.refunded".to_owned(), cancelled),
        ]
    );
}
