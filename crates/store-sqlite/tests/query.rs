//! `SqliteQueryStore` against a real database file: kept events, views and their filters.

use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{Envelope, Message, OrderLine, OrderPlaced, Queue};
use order_domain::OrderStatus;
use query_domain::{self as view, OrderView};
use store::query::{OrderFilter, QueryStore as _};
use store_sqlite::{SqliteDatabase, SqliteQueryStore};
use tempfile::TempDir;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

async fn open_store() -> (SqliteQueryStore, TempDir) {
    let data_dir = tempfile::tempdir().expect("a temporary data dir");
    let database = SqliteDatabase::open(data_dir.path(), Queue::Query)
        .await
        .expect("open the query database");
    (SqliteQueryStore::new(database), data_dir)
}

fn placed(email: &str, product_id: &str, seconds: i64) -> Envelope {
    let order_id = OrderId::new(Uuid::now_v7());
    let placed_at =
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(seconds);
    let line = OrderLine {
        product_id: Sku::parse(product_id).expect("a valid sku"),
        name: "Mouse".into(),
        quantity: Quantity::new(1).expect("a valid quantity"),
        unit_price_minor: 2_599,
    };
    let message = Message::from(OrderPlaced {
        order_id,
        customer_email: Email::parse(email).expect("a valid email"),
        items: vec![line],
        total_minor: 2_599,
        currency: "USD".into(),
        payment_reference: "sha256:00112233445566778899aabb".into(),
        placed_at,
    });
    Envelope::build(uuid::Uuid::now_v7(), &message).at(placed_at)
}

fn view_of(event: &Envelope) -> OrderView {
    view::project(std::slice::from_ref(event))
        .expect("decodes")
        .expect("a view")
}

async fn save(store: &SqliteQueryStore, views: &[OrderView]) {
    let mut tx = store.begin().await.expect("begin");
    for view in views {
        tx.save_view(view).await.expect("save view");
    }
    tx.commit().await.expect("commit");
}

fn filter() -> OrderFilter {
    OrderFilter {
        limit: 100,
        ..OrderFilter::default()
    }
}

#[tokio::test]
async fn an_event_is_kept_once_and_read_back_for_its_order() {
    let (store, _dir) = open_store().await;
    let event = placed("ada@example.com", "product-001", 0);
    let mut tx = store.begin().await.expect("begin");

    assert!(tx.keep_event(&event).await.expect("keep"));
    assert!(!tx.keep_event(&event).await.expect("keep again"));
    assert_eq!(
        tx.events(OrderId::new(event.correlation_id))
            .await
            .expect("read events"),
        std::slice::from_ref(&event)
    );
    assert_eq!(
        tx.events(OrderId::new(Uuid::now_v7()))
            .await
            .expect("read events"),
        Vec::<Envelope>::new()
    );
    tx.commit().await.expect("commit");

    assert_eq!(
        store.order_ids().await.expect("order ids"),
        [OrderId::new(event.correlation_id)]
    );
}

#[tokio::test]
async fn nothing_is_kept_when_the_transaction_is_dropped() {
    let (store, _dir) = open_store().await;
    let event = placed("ada@example.com", "product-001", 0);
    let mut tx = store.begin().await.expect("begin");
    tx.keep_event(&event).await.expect("keep");
    tx.save_view(&view_of(&event)).await.expect("save view");
    drop(tx);

    assert_eq!(
        store.order_ids().await.expect("order ids"),
        Vec::<OrderId>::new()
    );
    assert_eq!(
        store
            .view(OrderId::new(event.correlation_id))
            .await
            .expect("read view"),
        None
    );
}

#[tokio::test]
async fn saving_a_view_again_replaces_it() {
    let (store, _dir) = open_store().await;
    let mut view = view_of(&placed("ada@example.com", "product-001", 0));
    save(&store, std::slice::from_ref(&view)).await;

    view.status = "COMPLETED".into();
    save(&store, std::slice::from_ref(&view)).await;

    assert_eq!(
        store
            .view(OrderId::new(view.order_id))
            .await
            .expect("read view"),
        Some(view.clone())
    );
    let completed = OrderFilter {
        status: Some(OrderStatus::Completed),
        ..filter()
    };
    assert_eq!(store.list(&completed).await.expect("list"), [view]);
    assert_eq!(store.list(&filter()).await.expect("list").len(), 1);
}

#[tokio::test]
async fn free_text_matches_parts_of_ids_and_emails_with_wildcards_taken_literally() {
    let (store, _dir) = open_store().await;
    let plain = view_of(&placed("ada@example.com", "product-001", 0));
    let underscore = view_of(&placed("ada_lovelace@example.com", "product_x", 1));
    save(&store, &[plain.clone(), underscore.clone()]).await;
    let search = |text: &str| OrderFilter {
        text: Some(text.into()),
        ..filter()
    };

    assert_eq!(
        store.list(&search("_")).await.expect("list"),
        std::slice::from_ref(&underscore)
    );
    assert_eq!(
        store.list(&search("LOVELACE")).await.expect("list"),
        [underscore]
    );
    assert_eq!(
        store.list(&search("duct-00")).await.expect("list"),
        std::slice::from_ref(&plain)
    );
    assert_eq!(
        store
            .list(&search(&plain.order_id.to_string()))
            .await
            .expect("list"),
        [plain]
    );
    assert_eq!(
        store.list(&search("%")).await.expect("list"),
        Vec::<OrderView>::new()
    );
}

#[tokio::test]
async fn listing_is_newest_first_strictly_before_the_position_and_limited() {
    let (store, _dir) = open_store().await;
    let views: Vec<OrderView> = (0..4)
        .map(|n| view_of(&placed("ada@example.com", "product-001", n)))
        .collect();
    save(&store, &views).await;
    let newest_first: Vec<Uuid> = views.iter().rev().map(|view| view.order_id).collect();
    let ids = |views: Vec<OrderView>| {
        views
            .into_iter()
            .map(|view| view.order_id)
            .collect::<Vec<_>>()
    };

    assert_eq!(
        ids(store.list(&filter()).await.expect("list")),
        newest_first
    );
    assert_eq!(
        ids(store
            .list(&OrderFilter {
                limit: 2,
                ..filter()
            })
            .await
            .expect("list")),
        newest_first[..2]
    );
    let position = view::Cursor::at(&views[2]);
    let before = OrderFilter {
        before: Some((position.created_at_ms, position.order_id)),
        ..filter()
    };
    assert_eq!(
        ids(store.list(&before).await.expect("list")),
        newest_first[2..]
    );
    let by_email = OrderFilter {
        customer_email: Some(" ADA@example.com ".into()),
        ..filter()
    };
    assert_eq!(store.list(&by_email).await.expect("list").len(), 4);
}
