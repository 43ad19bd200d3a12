//! `verify` on the order streams and the read model of embedded data directories: orders that
//! do not end, streams this build cannot read, and a read model that is not the fold of the
//! event log.

use std::path::Path;
use std::time::Duration;

use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{Envelope, Message, OrderLine, OrderPlaced};
use order_domain::saga::SagaStep;
use orderflow::verify::Kind;
use store::order::OrderStore as _;
use store::query::QueryStore as _;
use store_sqlite::{Databases, SqliteOrderStore, SqliteQueryStore};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::embedded::assert_only;
use crate::golden::{break_order, golden_copy, tamper, verify_now};

/// Places an order in the event store and the read model, as the order and query services
/// would have, and leaves it waiting for its stock.
async fn place_waiting_order(data_dir: &Path) -> Uuid {
    let databases = Databases::open(data_dir).await.expect("open the data dir");
    let order_id = Uuid::now_v7();
    let placed = Envelope::build(
        Uuid::now_v7(),
        &Message::from(OrderPlaced {
            order_id: OrderId::new(order_id),
            customer_email: Email::parse("ada@example.com").expect("a valid email"),
            items: vec![OrderLine {
                product_id: Sku::parse("product-002").expect("a valid sku"),
                name: "Mouse".into(),
                quantity: Quantity::new(1).expect("a valid quantity"),
                unit_price_minor: 2_599,
            }],
            total_minor: 2_599,
            currency: "USD".into(),
            payment_reference: "sha256:00112233445566778899aabb".into(),
            placed_at: OffsetDateTime::now_utc(),
        }),
    )
    .at(OffsetDateTime::now_utc());
    let orders = SqliteOrderStore::new(databases.order.clone());
    let mut tx = orders.begin().await.expect("begin");
    tx.append(OrderId::new(order_id), 0, std::slice::from_ref(&placed))
        .await
        .expect("append");
    tx.commit().await.expect("commit");
    let view = query_domain::project(std::slice::from_ref(&placed)).expect("a fold");
    let read_model = SqliteQueryStore::new(databases.query.clone());
    let mut tx = read_model.begin().await.expect("begin");
    tx.keep_event(&placed).await.expect("keep");
    tx.save_view(&view.expect("a view")).await.expect("save");
    tx.commit().await.expect("commit");
    databases.close().await;
    order_id
}

async fn set_deadline(data_dir: &Path, order_id: Uuid, after: Duration) {
    let databases = Databases::open(data_dir).await.expect("open the data dir");
    let orders = SqliteOrderStore::new(databases.order.clone());
    let mut tx = orders.begin().await.expect("begin");
    tx.set_deadline(OrderId::new(order_id), SagaStep::AwaitingStock, after)
        .await
        .expect("set the deadline");
    tx.commit().await.expect("commit");
    databases.close().await;
}

#[tokio::test]
async fn an_order_waiting_past_its_deadline_or_without_one_is_stuck() {
    let (data_dir, _) = golden_copy();
    let waiting = place_waiting_order(data_dir.path()).await;
    let subject = format!("order {waiting}");

    let without_deadline = verify_now(data_dir.path()).await;
    set_deadline(data_dir.path(), waiting, Duration::from_secs(3600)).await;
    let within_deadline = verify_now(data_dir.path()).await;
    let sql = "UPDATE deadlines SET due_at = due_at - 7200000 WHERE order_id = ?1";
    break_order(data_dir.path(), "order", sql, waiting).await;
    let past_deadline = verify_now(data_dir.path()).await;

    assert_only(&without_deadline, Kind::OrderStuck, &subject);
    assert!(
        (without_deadline.violations[0].detail).starts_with("PENDING with no pending deadline"),
        "{without_deadline}"
    );
    assert!(within_deadline.is_clean(), "{within_deadline}");
    assert_eq!(within_deadline.checked.orders_in_progress, 1);
    assert_only(&past_deadline, Kind::OrderStuck, &subject);
    assert!(
        (past_deadline.violations[0].detail)
            .starts_with("PENDING and its awaiting_stock deadline passed 1h00m"),
        "{past_deadline}"
    );
}

#[tokio::test]
async fn an_order_event_this_build_cannot_read_is_reported_unreadable() {
    let (data_dir, orders) = golden_copy();
    let sql = "UPDATE events SET envelope = json_set(envelope, '$.schema_version', 99) \
               WHERE stream_id = ?1 AND stream_version = 1";
    break_order(data_dir.path(), "order", sql, orders.completed).await;

    let report = verify_now(data_dir.path()).await;

    assert_only(
        &report,
        Kind::OrderUnreadable,
        &format!("order {}", orders.completed),
    );
}

const FORGET_COMPLETION: &str = "DELETE FROM view_events \
    WHERE order_id = ?1 AND envelope LIKE '%\"type\":\"order.completed\"%'";

#[tokio::test]
async fn a_view_that_is_not_the_fold_of_its_kept_events_is_reported() {
    let (data_dir, orders) = golden_copy();
    break_order(
        data_dir.path(),
        "query",
        FORGET_COMPLETION,
        orders.completed,
    )
    .await;

    let report = verify_now(data_dir.path()).await;

    assert_only(
        &report,
        Kind::ViewDiffersFromFold,
        &format!("order {}", orders.completed),
    );
    assert_eq!(
        report.violations[0].detail,
        "the saved view is COMPLETED but its kept events fold to PAID"
    );
}

#[tokio::test]
async fn an_order_missing_from_the_read_model_is_reported() {
    let (data_dir, orders) = golden_copy();
    let order = [orders.declined.to_string()];
    for sql in [
        "DELETE FROM view_events WHERE order_id = ?1",
        "DELETE FROM order_views WHERE order_id = ?1",
    ] {
        assert!(tamper(data_dir.path(), "query", sql, &order).await >= 1);
    }

    let report = verify_now(data_dir.path()).await;

    assert_only(
        &report,
        Kind::OrderMissingFromReadModel,
        &format!("order {}", orders.declined),
    );
}

#[tokio::test]
async fn a_read_model_behind_the_event_store_is_reported() {
    let (data_dir, orders) = golden_copy();
    break_order(
        data_dir.path(),
        "query",
        FORGET_COMPLETION,
        orders.completed,
    )
    .await;
    // Folded again from what it kept, as the query service would: a view of a paid order.
    let databases = Databases::open(data_dir.path()).await.expect("open");
    let read_model = SqliteQueryStore::new(databases.query.clone());
    let mut tx = read_model.begin().await.expect("begin");
    let kept = tx
        .events(OrderId::new(orders.completed))
        .await
        .expect("kept events");
    let view = query_domain::project(&kept)
        .expect("a fold")
        .expect("a view");
    tx.save_view(&view).await.expect("save");
    tx.commit().await.expect("commit");
    databases.close().await;

    let report = verify_now(data_dir.path()).await;

    assert_only(
        &report,
        Kind::ReadModelBehind,
        &format!("order {}", orders.completed),
    );
    assert_eq!(
        report.violations[0].detail,
        "COMPLETED in the event store, but PAID in the read model"
    );
}
