//! Starting the query service on a fresh read model, and the events of typical orders.

use std::sync::Arc;

use api::{ListQuery, OrderPage};
use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{
    Compensation, Envelope, Message, OrderCancelled, OrderCompleted, OrderInventoryReserved,
    OrderLine, OrderPaid, OrderPlaced, Queue,
};
use query_service::QueryService;
use store_sqlite::{SqliteDatabase, SqliteQueryStore};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};
use transport::Handler as _;
use uuid::Uuid;

pub(crate) struct TestApp {
    pub(crate) service: QueryService,
    pub(crate) store: Arc<SqliteQueryStore>,
    _data_dir: TempDir,
}

pub(crate) async fn spawn_app() -> TestApp {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let database = SqliteDatabase::open(data_dir.path(), Queue::Query)
        .await
        .expect("open the query database");
    let store = Arc::new(SqliteQueryStore::new(database));
    TestApp {
        service: QueryService::new(store.clone()),
        store,
        _data_dir: data_dir,
    }
}

impl TestApp {
    pub(crate) async fn deliver(&self, events: &[Envelope]) {
        for event in events {
            self.service
                .handle(event)
                .await
                .expect("the event is projected");
        }
    }

    /// Lists as the admin would: every order.
    pub(crate) async fn list(&self, query: ListQuery) -> OrderPage {
        self.service
            .list(query, None)
            .await
            .expect("a page of orders")
    }

    /// Lists as the customer `owner` would: their own orders only.
    pub(crate) async fn list_as(&self, owner: &str, query: ListQuery) -> OrderPage {
        let owner = Email::parse(owner).expect("a valid email");
        self.service
            .list(query, Some(&owner))
            .await
            .expect("a page of orders")
    }
}

pub(crate) fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(seconds)
}

pub(crate) fn new_order_id() -> OrderId {
    OrderId::new(Uuid::now_v7())
}

pub(crate) fn envelope(message: impl Into<Message>, occurred_at: OffsetDateTime) -> Envelope {
    Envelope::build(uuid::Uuid::now_v7(), &message.into()).at(occurred_at)
}

pub(crate) fn placed(
    order_id: OrderId,
    email: &str,
    product_id: &str,
    placed_at: OffsetDateTime,
) -> Envelope {
    let line = OrderLine {
        product_id: Sku::parse(product_id).expect("a valid sku"),
        name: "Mouse".into(),
        quantity: Quantity::new(2).expect("a valid quantity"),
        unit_price_minor: 2_599,
    };
    let placed = OrderPlaced {
        order_id,
        customer_email: Email::parse(email).expect("a valid email"),
        items: vec![line],
        total_minor: 5_198,
        currency: "USD".into(),
        payment_reference: "sha256:00112233445566778899aabb".into(),
        placed_at,
    };
    envelope(placed, placed_at)
}

/// The four events of an order that went through, placed at `placed_at`.
pub(crate) fn completed_order(
    order_id: OrderId,
    email: &str,
    product_id: &str,
    placed_at: OffsetDateTime,
) -> Vec<Envelope> {
    let step = |n: i64| placed_at + Duration::seconds(n);
    vec![
        placed(order_id, email, product_id, placed_at),
        envelope(
            OrderInventoryReserved {
                order_id,
                reserved_at: step(1),
            },
            step(1),
        ),
        envelope(
            OrderPaid {
                order_id,
                payment_id: Uuid::now_v7(),
                amount_minor: 5_198,
                paid_at: step(2),
            },
            step(2),
        ),
        envelope(
            OrderCompleted {
                order_id,
                customer_email: Email::parse(email).expect("a valid email"),
                items: Vec::new(),
                total_minor: 5_198,
                currency: "USD".into(),
                completed_at: step(3),
            },
            step(3),
        ),
    ]
}

pub(crate) fn cancelled_order(
    order_id: OrderId,
    email: &str,
    placed_at: OffsetDateTime,
) -> Vec<Envelope> {
    let cancelled_at = placed_at + Duration::seconds(1);
    let cancelled = OrderCancelled {
        order_id,
        customer_email: Email::parse(email).expect("a valid email"),
        reason: "insufficient stock for product-002: requested 2, available 0".into(),
        compensations: vec![Compensation::ReleaseStock],
        cancelled_at,
    };
    vec![
        placed(order_id, email, "product-002", placed_at),
        envelope(cancelled, cancelled_at),
    ]
}

pub(crate) fn ids(page: &OrderPage) -> Vec<OrderId> {
    page.orders
        .iter()
        .map(|view| OrderId::new(view.order_id))
        .collect()
}
