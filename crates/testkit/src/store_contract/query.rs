//! The query service's store: kept events and the views folded from them.

use std::sync::Arc;

use contracts::value::{Email, OrderId, Quantity};
use contracts::{Envelope, Message, OrderInventoryReserved, OrderLine, OrderPlaced};
use order_domain::OrderStatus;
use query_domain::{self as view, Cursor, OrderView};
use store::query::{OrderFilter, QueryStore};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{new_order_id, sku};

/// An order event is kept once, read back for its order, and its order is listed.
pub async fn an_order_event_is_kept_once_and_read_back_for_its_order(store: Arc<dyn QueryStore>) {
    let event = placed("ada@example.com", "product-001", 0);
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.keep_event(&event).await.expect("keep"));
    assert!(!tx.keep_event(&event).await.expect("keep again"));
    assert_eq!(
        tx.events(order_of(&event)).await.expect("events"),
        std::slice::from_ref(&event)
    );
    assert!(tx.events(new_order_id()).await.expect("events").is_empty());
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert!(
        !tx.keep_event(&event).await.expect("keep after commit"),
        "a kept event is not kept twice"
    );
    drop(tx);
    assert_eq!(
        store.order_ids().await.expect("order ids"),
        [order_of(&event)]
    );
}

/// `handle_and_keep` records each message in the inbox and keeps the events recorded now: a
/// message handled before (or twice in one call) is answered `false` and kept once.
pub async fn events_handled_and_kept_together_are_kept_once_each(store: Arc<dyn QueryStore>) {
    let first = placed("ada@example.com", "product-001", 0);
    let second = placed("bob@example.com", "product-002", 1);
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.handle_and_keep(&[&first])
            .await
            .expect("handle and keep"),
        [true]
    );
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.handle_and_keep(&[&first, &second, &second])
            .await
            .expect("handle and keep again"),
        [false, true, false],
        "handled before, new, the same twice"
    );
    assert_eq!(
        tx.events(order_of(&first)).await.expect("events"),
        std::slice::from_ref(&first)
    );
    assert_eq!(
        tx.events(order_of(&second)).await.expect("events"),
        std::slice::from_ref(&second)
    );
    assert!(
        !tx.mark_handled(second.message_id)
            .await
            .expect("mark handled"),
        "recorded in the inbox"
    );
    tx.commit().await.expect("commit");
}

/// Events kept together are kept once each and read back per order, each order's in the order
/// they were kept, one list per order asked for (empty for an order with none); views saved
/// together are each stored, and replace earlier ones.
pub async fn events_kept_together_are_read_back_per_order_and_views_saved_together(
    store: Arc<dyn QueryStore>,
) {
    let first = placed("ada@example.com", "product-001", 0);
    let second = placed("bob@example.com", "product-002", 1);
    let (a, b) = (order_of(&first), order_of(&second));
    let reserved = Envelope::build(
        uuid::Uuid::now_v7(),
        &Message::from(OrderInventoryReserved {
            order_id: a,
            reserved_at: first.occurred_at,
        }),
    )
    .at(first.occurred_at);
    let mut tx = store.begin().await.expect("begin");
    tx.keep_event(&first).await.expect("keep");
    tx.keep_events(&[&first, &second, &reserved])
        .await
        .expect("keep together, one of them again");
    let none = new_order_id();
    let mut asked = vec![a, b, none];
    asked.sort_by_key(|order_id| order_id.as_uuid());
    let events = tx.events_of(&asked).await.expect("events of each");
    let expected: Vec<Vec<Envelope>> = asked
        .iter()
        .map(|order_id| match *order_id {
            id if id == a => vec![first.clone(), reserved.clone()],
            id if id == b => vec![second.clone()],
            _ => Vec::new(),
        })
        .collect();
    assert_eq!(events, expected);
    let mut old = view_of(&second);
    tx.save_view(&old).await.expect("save a view");
    old.status = "COMPLETED".into();
    let views = vec![view_of(&first), old];
    tx.save_views(&views).await.expect("save views together");
    tx.commit().await.expect("commit");

    for view in &views {
        assert_eq!(
            store.view(OrderId::new(view.order_id)).await.expect("view"),
            Some(view.clone())
        );
    }
    let mut kept = store.order_ids().await.expect("order ids");
    kept.sort_by_key(|order_id| order_id.as_uuid());
    let mut both = vec![a, b];
    both.sort_by_key(|order_id| order_id.as_uuid());
    assert_eq!(kept, both);
}

/// Events kept and views saved in a dropped transaction are not stored.
pub async fn a_dropped_query_transaction_keeps_nothing(store: Arc<dyn QueryStore>) {
    let event = placed("ada@example.com", "product-001", 0);
    let mut tx = store.begin().await.expect("begin");
    tx.keep_event(&event).await.expect("keep");
    tx.save_view(&view_of(&event)).await.expect("save view");
    drop(tx);

    assert!(store.order_ids().await.expect("order ids").is_empty());
    assert_eq!(store.view(order_of(&event)).await.expect("view"), None);
}

/// A fold of an order that starts while another fold of it is under way (two of its events
/// arriving at once) reads that one's event once it committed, so the last view saved has
/// every event.
pub async fn a_fold_racing_another_fold_of_its_order_sees_its_event(store: Arc<dyn QueryStore>) {
    let first = placed("ada@example.com", "product-001", 0);
    let order = order_of(&first);
    let second = Envelope::build(
        uuid::Uuid::now_v7(),
        &Message::from(OrderInventoryReserved {
            order_id: order,
            reserved_at: first.occurred_at,
        }),
    )
    .at(first.occurred_at);
    let mut folding = store.begin().await.expect("begin");
    folding.keep_event(&first).await.expect("keep");
    assert_eq!(folding.events(order).await.expect("events").len(), 1);

    let racing = tokio::spawn({
        let store = Arc::clone(&store);
        async move {
            let mut tx = store.begin().await.expect("begin");
            tx.keep_event(&second).await.expect("keep");
            let events = tx.events(order).await.expect("events");
            tx.commit().await.expect("commit");
            events.len()
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    folding.commit().await.expect("commit");

    assert_eq!(
        racing.await.expect("racing fold"),
        2,
        "the later fold sees both events"
    );
}

/// Saving an order's view again replaces it, in reads and in listings.
pub async fn saving_a_view_again_replaces_it(store: Arc<dyn QueryStore>) {
    let mut view = view_of(&placed("ada@example.com", "product-001", 0));
    save(&store, std::slice::from_ref(&view)).await;
    view.status = "COMPLETED".into();
    save(&store, std::slice::from_ref(&view)).await;

    assert_eq!(
        store.view(OrderId::new(view.order_id)).await.expect("view"),
        Some(view.clone())
    );
    let completed = OrderFilter {
        status: Some(OrderStatus::Completed),
        ..all()
    };
    assert_eq!(
        store.list(&completed).await.expect("list"),
        std::slice::from_ref(&view)
    );
    assert_eq!(store.list(&all()).await.expect("list"), [view]);
}

/// Free text matches part of an order id, an email or a product id, ignoring case, with `%`
/// and `_` taken literally.
pub async fn free_text_search_takes_wildcards_literally(store: Arc<dyn QueryStore>) {
    let plain = view_of(&placed("ada@example.com", "product-001", 0));
    let underscore = view_of(&placed("ada_lovelace@example.com", "product_x", 1));
    save(&store, &[plain.clone(), underscore.clone()]).await;
    let search = |text: &str| OrderFilter {
        text: Some(text.into()),
        ..all()
    };

    assert_eq!(
        store.list(&search("_")).await.expect("list"),
        std::slice::from_ref(&underscore)
    );
    assert_eq!(
        store.list(&search("LOVELACE")).await.expect("list"),
        std::slice::from_ref(&underscore)
    );
    assert_eq!(
        store.list(&search("duct-00")).await.expect("list"),
        std::slice::from_ref(&plain)
    );
    let id_part = &plain.order_id.to_string()[24..];
    assert_eq!(
        store.list(&search(id_part)).await.expect("list"),
        std::slice::from_ref(&plain)
    );
    assert!(store.list(&search("%")).await.expect("list").is_empty());
    assert!(store.list(&search("\\")).await.expect("list").is_empty());
}

/// Views are listed newest first, by customer and status, strictly before a cursor's position,
/// at most `limit`; the cursor of a page's last view gives the next page.
pub async fn views_are_listed_newest_first_by_filter_and_before_a_cursor(
    store: Arc<dyn QueryStore>,
) {
    let mut views: Vec<OrderView> = (0..4)
        .map(|n| view_of(&placed("ada@example.com", "product-001", n)))
        .collect();
    views[1].status = "COMPLETED".into();
    let bob = view_of(&placed("bob@example.com", "product-002", 10));
    save(&store, &views).await;
    save(&store, std::slice::from_ref(&bob)).await;
    let ada_newest_first: Vec<Uuid> = views.iter().rev().map(|view| view.order_id).collect();

    let by_ada = OrderFilter {
        customer_email: Some(" ADA@example.com ".into()),
        ..all()
    };
    assert_eq!(
        ids(store.list(&by_ada).await.expect("list")),
        ada_newest_first
    );
    let first_page = store
        .list(&OrderFilter {
            limit: 2,
            ..by_ada.clone()
        })
        .await
        .expect("list");
    assert_eq!(ids(first_page.clone()), ada_newest_first[..2]);
    let cursor = Cursor::at(&first_page[1]);
    let next_page = OrderFilter {
        before: Some((cursor.created_at_ms, cursor.order_id)),
        ..by_ada.clone()
    };
    assert_eq!(
        ids(store.list(&next_page).await.expect("list")),
        ada_newest_first[2..]
    );
    let completed = OrderFilter {
        status: Some(OrderStatus::Completed),
        ..by_ada
    };
    assert_eq!(
        ids(store.list(&completed).await.expect("list")),
        [views[1].order_id]
    );
    assert_eq!(
        ids(store.list(&all()).await.expect("list"))[0],
        bob.order_id,
        "the newest of all"
    );
    assert_eq!(store.list(&all()).await.expect("list").len(), 5);
}

/// `order.placed` by `email` for one `product_id`, `seconds` after a fixed time.
fn placed(email: &str, product_id: &str, seconds: i64) -> Envelope {
    let placed_at =
        OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(seconds);
    let message = Message::from(OrderPlaced {
        order_id: new_order_id(),
        customer_email: Email::parse(email).expect("a valid email"),
        items: vec![OrderLine {
            product_id: sku(product_id),
            name: "Mouse".into(),
            quantity: Quantity::new(1).expect("a valid quantity"),
            unit_price_minor: 2_599,
        }],
        total_minor: 2_599,
        currency: "USD".into(),
        payment_reference: "sha256:00112233445566778899aabb".into(),
        placed_at,
    });
    Envelope::build(uuid::Uuid::now_v7(), &message).at(placed_at)
}

fn view_of(event: &Envelope) -> OrderView {
    view::project(std::slice::from_ref(event))
        .expect("the event decodes")
        .expect("an order.placed makes a view")
}

async fn save(store: &Arc<dyn QueryStore>, views: &[OrderView]) {
    let mut tx = store.begin().await.expect("begin");
    for view in views {
        tx.save_view(view).await.expect("save view");
    }
    tx.commit().await.expect("commit");
}

/// Every view, newest first.
fn all() -> OrderFilter {
    OrderFilter {
        limit: 100,
        ..OrderFilter::default()
    }
}

/// The order an event is about.
fn order_of(event: &Envelope) -> OrderId {
    OrderId::new(event.correlation_id)
}

fn ids(views: Vec<OrderView>) -> Vec<Uuid> {
    views.into_iter().map(|view| view.order_id).collect()
}
