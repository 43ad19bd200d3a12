//! Listing, filtering and paging through orders.

use std::collections::HashSet;

use api::{ListQuery, OrderPage};
use contracts::value::OrderId;
use order_domain::OrderStatus;
use query_domain::Cursor;
use query_service::Error;

use crate::helpers::{at, cancelled_order, completed_order, ids, new_order_id, spawn_app};

#[tokio::test]
async fn listing_filters_by_customer_email_status_and_free_text() {
    let app = spawn_app().await;
    let (ada_completed, ada_cancelled, bob_completed) =
        (new_order_id(), new_order_id(), new_order_id());
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
            status: Some(OrderStatus::Completed),
            ..ListQuery::default()
        })
        .await;
    assert_eq!(ids(&completed), [bob_completed, ada_completed]);

    let both = ListQuery {
        customer_email: Some("ada@example.com".into()),
        status: Some(OrderStatus::Cancelled),
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
        Vec::<OrderId>::new(),
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
async fn a_customer_lists_only_their_own_orders_whatever_they_ask() {
    let app = spawn_app().await;
    let (ada_completed, ada_cancelled, bob_completed) =
        (new_order_id(), new_order_id(), new_order_id());
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
        "product-001",
        at(20),
    ))
    .await;

    let everything = app.list_as("Ada@Example.com", ListQuery::default()).await;
    assert_eq!(ids(&everything), [ada_cancelled, ada_completed]);
    let every_address = ListQuery {
        text: Some("@".into()),
        ..ListQuery::default()
    };
    assert_eq!(
        ids(&app.list_as("ada@example.com", every_address).await),
        [ada_cancelled, ada_completed]
    );
    let bobs = ListQuery {
        customer_email: Some("bob@example.com".into()),
        ..ListQuery::default()
    };
    assert_eq!(ids(&app.list_as("ada@example.com", bobs.clone()).await), []);
    assert_eq!(
        ids(&app.list(bobs).await),
        [bob_completed],
        "the admin sees all"
    );
    let completed = ListQuery {
        status: Some(OrderStatus::Completed),
        ..ListQuery::default()
    };
    assert_eq!(
        ids(&app.list_as("bob@example.com", completed).await),
        [bob_completed]
    );
}

#[tokio::test]
async fn paging_with_the_cursor_neither_repeats_nor_skips_an_order() {
    let app = spawn_app().await;
    let mut expected = Vec::new();
    for n in 0..7 {
        let order_id = new_order_id();
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
    let expected: Vec<OrderId> = expected.into_iter().map(|(_, order_id)| order_id).collect();

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
            new_order_id(),
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
        app.deliver(&cancelled_order(new_order_id(), "ada@example.com", at(n)))
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
async fn a_malformed_cursor_is_the_clients_error() {
    let app = spawn_app().await;

    let cursor = app
        .service
        .list(
            ListQuery {
                cursor: Some("yesterday".into()),
                ..ListQuery::default()
            },
            None,
        )
        .await;
    assert!(matches!(cursor, Err(Error::InvalidCursor(_))), "{cursor:?}");
}

#[tokio::test]
async fn a_cursor_names_the_last_order_of_its_page() {
    let app = spawn_app().await;
    for n in 0..3 {
        app.deliver(&cancelled_order(new_order_id(), "ada@example.com", at(n)))
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
