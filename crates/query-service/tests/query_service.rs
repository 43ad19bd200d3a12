//! The query service against its real SQLite read model: projecting events however they
//! arrive, listing and paging, and rebuilding.

use std::collections::HashSet;
use std::sync::Arc;

use contracts::{
    Compensation, Envelope, Message, OrderCancelled, OrderCompleted, OrderInventoryReserved,
    OrderLine, OrderPaid, OrderPlaced, Queue, StockReleased,
};
use query_service::ports::QueryStore as _;
use query_service::view::Cursor;
use query_service::{Error, ListQuery, OrderPage, QueryService};
use store_sqlite::{SqliteDatabase, SqliteQueryStore};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};
use transport::{HandleError, Handler as _};
use uuid::Uuid;

struct TestApp {
    service: QueryService,
    store: Arc<SqliteQueryStore>,
    _data_dir: TempDir,
}

async fn spawn_app() -> TestApp {
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
    async fn deliver(&self, events: &[Envelope]) {
        for event in events {
            self.service
                .handle(event)
                .await
                .expect("the event is projected");
        }
    }

    async fn list(&self, query: ListQuery) -> OrderPage {
        self.service.list(query).await.expect("a page of orders")
    }
}

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(seconds)
}

fn envelope(message: impl Into<Message>, occurred_at: OffsetDateTime) -> Envelope {
    Envelope::build(&message.into()).at(occurred_at)
}

fn placed(order_id: Uuid, email: &str, product_id: &str, placed_at: OffsetDateTime) -> Envelope {
    let line = OrderLine {
        product_id: product_id.into(),
        name: "Mouse".into(),
        quantity: 2,
        unit_price_minor: 2_599,
    };
    let placed = OrderPlaced {
        order_id,
        customer_email: email.into(),
        items: vec![line],
        total_minor: 5_198,
        currency: "USD".into(),
        payment_token: "tok_visa".into(),
        placed_at,
    };
    envelope(placed, placed_at)
}

/// The four events of an order that went through, placed at `placed_at`.
fn completed_order(
    order_id: Uuid,
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
                customer_email: email.into(),
                total_minor: 5_198,
                currency: "USD".into(),
                completed_at: step(3),
            },
            step(3),
        ),
    ]
}

fn cancelled_order(order_id: Uuid, email: &str, placed_at: OffsetDateTime) -> Vec<Envelope> {
    let cancelled_at = placed_at + Duration::seconds(1);
    let cancelled = OrderCancelled {
        order_id,
        customer_email: email.into(),
        reason: "insufficient stock for product-002: requested 2, available 0".into(),
        compensations: vec![Compensation::ReleaseStock],
        cancelled_at,
    };
    vec![
        placed(order_id, email, "product-002", placed_at),
        envelope(cancelled, cancelled_at),
    ]
}

fn ids(page: &OrderPage) -> Vec<Uuid> {
    page.orders.iter().map(|view| view.order_id).collect()
}

#[tokio::test]
async fn an_orders_events_in_any_order_and_each_twice_give_a_completed_view() {
    let app = spawn_app().await;
    let order_id = Uuid::now_v7();
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
    let order_id = Uuid::now_v7();
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
    let order_id = Uuid::now_v7();

    let outcome = app
        .service
        .handle(&envelope(StockReleased { order_id }, at(0)))
        .await;

    assert!(outcome.is_ok(), "{outcome:?}");
    assert_eq!(
        app.store.order_ids().await.expect("read order ids"),
        Vec::<Uuid>::new()
    );
}

#[tokio::test]
async fn an_order_event_that_cannot_be_decoded_is_rejected_and_kept_nowhere() {
    let app = spawn_app().await;
    let mut broken = placed(Uuid::now_v7(), "ada@example.com", "product-002", at(0));
    broken.payload = serde_json::json!({"order_id": broken.correlation_id, "items": "not a list"});

    let outcome = app.service.handle(&broken).await;

    assert!(
        matches!(outcome, Err(HandleError::Rejected(_))),
        "{outcome:?}"
    );
    assert_eq!(
        app.store.order_ids().await.expect("read order ids"),
        Vec::<Uuid>::new()
    );
}

#[tokio::test]
async fn listing_filters_by_customer_email_status_and_free_text() {
    let app = spawn_app().await;
    let (ada_completed, ada_cancelled, bob_completed) =
        (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    app.deliver(&completed_order(
        ada_completed,
        "ada@example.com",
        "product-001",
        at(0),
    ))
    .await;
    app.deliver(&cancelled_order(ada_cancelled, "ada@example.com", at(10)))
        .await;
    app.deliver(&completed_order(
        bob_completed,
        "bob@example.com",
        "product-003",
        at(20),
    ))
    .await;

    let ada = app
        .list(ListQuery {
            customer_email: Some("Ada@Example.com".into()),
            ..ListQuery::default()
        })
        .await;
    assert_eq!(ids(&ada), [ada_cancelled, ada_completed], "newest first");

    let completed = app
        .list(ListQuery {
            status: Some("completed".into()),
            ..ListQuery::default()
        })
        .await;
    assert_eq!(ids(&completed), [bob_completed, ada_completed]);

    let both = ListQuery {
        customer_email: Some("ada@example.com".into()),
        status: Some("CANCELLED".into()),
        ..ListQuery::default()
    };
    assert_eq!(ids(&app.list(both).await), [ada_cancelled]);

    let keyboard = app
        .list(ListQuery {
            text: Some("PRODUCT-003".into()),
            ..ListQuery::default()
        })
        .await;
    assert_eq!(ids(&keyboard), [bob_completed]);

    let by_id_prefix = bob_completed.to_string()[..13].to_owned();
    let by_id = app
        .list(ListQuery {
            text: Some(by_id_prefix),
            ..ListQuery::default()
        })
        .await;
    assert!(ids(&by_id).contains(&bob_completed));

    let wildcard = app
        .list(ListQuery {
            text: Some("%".into()),
            ..ListQuery::default()
        })
        .await;
    assert_eq!(
        ids(&wildcard),
        Vec::<Uuid>::new(),
        "`%` is matched literally"
    );

    let nobody = app
        .list(ListQuery {
            customer_email: Some("eve@example.com".into()),
            ..ListQuery::default()
        })
        .await;
    assert_eq!(
        nobody,
        OrderPage {
            orders: Vec::new(),
            next_cursor: None
        }
    );
}

#[tokio::test]
async fn paging_with_the_cursor_neither_repeats_nor_skips_an_order() {
    let app = spawn_app().await;
    let mut expected = Vec::new();
    for n in 0..7 {
        let order_id = Uuid::now_v7();
        // Orders 3 and 4 are placed in the same millisecond: the order id breaks the tie.
        let placed_at = at(if n == 4 { 3 } else { n });
        app.deliver(&completed_order(
            order_id,
            "ada@example.com",
            "product-002",
            placed_at,
        ))
        .await;
        expected.push((placed_at, order_id));
    }
    expected.sort_by(|a, b| b.cmp(a));
    let expected: Vec<Uuid> = expected.into_iter().map(|(_, order_id)| order_id).collect();

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor = None;
    loop {
        let page = app
            .list(ListQuery {
                limit: Some(3),
                cursor: cursor.take(),
                ..ListQuery::default()
            })
            .await;
        pages += 1;
        assert!(page.orders.len() <= 3);
        seen.extend(ids(&page));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    assert_eq!(seen, expected);
    assert_eq!(pages, 3);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);
}

#[tokio::test]
async fn a_page_that_ends_exactly_at_the_last_order_has_no_next_cursor() {
    let app = spawn_app().await;
    for n in 0..2 {
        app.deliver(&completed_order(
            Uuid::now_v7(),
            "ada@example.com",
            "product-002",
            at(n),
        ))
        .await;
    }

    let page = app
        .list(ListQuery {
            limit: Some(2),
            ..ListQuery::default()
        })
        .await;

    assert_eq!(page.orders.len(), 2);
    assert_eq!(page.next_cursor, None);
}

#[tokio::test]
async fn page_sizes_default_to_twenty_and_are_capped_at_a_hundred() {
    let app = spawn_app().await;
    for n in 0..25 {
        app.deliver(&cancelled_order(Uuid::now_v7(), "ada@example.com", at(n)))
            .await;
    }

    let default = app.list(ListQuery::default()).await;
    assert_eq!(default.orders.len(), 20);
    assert!(default.next_cursor.is_some());

    let huge = app
        .list(ListQuery {
            limit: Some(10_000),
            ..ListQuery::default()
        })
        .await;
    assert_eq!(huge.orders.len(), 25);
    assert_eq!(huge.next_cursor, None);
}

#[tokio::test]
async fn a_malformed_cursor_or_an_unknown_status_is_the_clients_error() {
    let app = spawn_app().await;

    let cursor = app
        .service
        .list(ListQuery {
            cursor: Some("yesterday".into()),
            ..ListQuery::default()
        })
        .await;
    assert!(matches!(cursor, Err(Error::InvalidCursor(_))), "{cursor:?}");

    let status = app
        .service
        .list(ListQuery {
            status: Some("SHIPPED".into()),
            ..ListQuery::default()
        })
        .await;
    assert!(
        matches!(status, Err(Error::InvalidStatus(ref raw)) if raw == "SHIPPED"),
        "{status:?}"
    );
}

#[tokio::test]
async fn a_rebuild_yields_the_same_views_and_repairs_one_that_drifted() {
    let app = spawn_app().await;
    let (completed, cancelled) = (Uuid::now_v7(), Uuid::now_v7());
    app.deliver(&completed_order(
        completed,
        "ada@example.com",
        "product-001",
        at(0),
    ))
    .await;
    app.deliver(&cancelled_order(cancelled, "bob@example.com", at(5)))
        .await;
    let before = app.list(ListQuery::default()).await;

    // A view written by some older, buggy build.
    let mut drifted = app
        .service
        .order(completed)
        .await
        .expect("read the view")
        .expect("a view");
    drifted.status = "PENDING".into();
    drifted.history.clear();
    let mut tx = app.store.begin().await.expect("begin");
    tx.save_view(&drifted).await.expect("save the drifted view");
    tx.commit().await.expect("commit");

    let rebuilt = app.service.rebuild().await.expect("rebuild the read model");

    assert_eq!(rebuilt, 2);
    assert_eq!(app.list(ListQuery::default()).await, before);
    let status = ListQuery {
        status: Some("COMPLETED".into()),
        ..ListQuery::default()
    };
    assert_eq!(
        ids(&app.list(status).await),
        [completed],
        "the status column is rebuilt too"
    );
}

#[tokio::test]
async fn a_cursor_names_the_last_order_of_its_page() {
    let app = spawn_app().await;
    for n in 0..3 {
        app.deliver(&cancelled_order(Uuid::now_v7(), "ada@example.com", at(n)))
            .await;
    }

    let page = app
        .list(ListQuery {
            limit: Some(2),
            ..ListQuery::default()
        })
        .await;

    let last = page.orders.last().expect("a full page");
    assert_eq!(page.next_cursor, Some(Cursor::at(last).to_string()));
}
