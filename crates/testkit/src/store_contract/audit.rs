//! The audit reads (`store::audit`) that `orderflow verify` checks the invariants with: each is
//! written through the service's own store and read back through its audit port.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use contracts::value::{Email, OrderId, Quantity};
use contracts::{Envelope, Message, OrderLine, OrderPlaced, StockLine};
use inventory_domain::ReservationStatus;
use order_domain::saga::SagaStep;
use store::audit::{InventoryAudit, OrderAudit, QueryAudit, ReservationRecord, StockCounters};
use store::inventory::InventoryStore;
use store::order::OrderStore;
use store::query::QueryStore;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{message_about, new_order_id, sku};

/// Three services' stores, each beside its audit reads on the same database.
pub struct AuditStores {
    pub order: Arc<dyn OrderStore>,
    pub order_audit: Arc<dyn OrderAudit>,
    pub inventory: Arc<dyn InventoryStore>,
    pub inventory_audit: Arc<dyn InventoryAudit>,
    pub query: Arc<dyn QueryStore>,
    pub query_audit: Arc<dyn QueryAudit>,
}

/// Order streams come in pages in order id order, each with every event in stream order and
/// how long it has been quiet.
pub async fn order_streams_are_paged_in_id_order_with_every_event(stores: AuditStores) {
    let mut orders = [new_order_id(), new_order_id(), new_order_id()];
    orders.sort();
    for (order, events) in orders.iter().zip([2, 1, 3]) {
        let envelopes: Vec<Envelope> = (0..events).map(|_| message_about(*order)).collect();
        let mut tx = stores.order.begin().await.expect("begin");
        tx.append(*order, 0, &envelopes).await.expect("append");
        tx.commit().await.expect("commit");
    }

    let first = stores.order_audit.streams(None, 2).await.expect("page");
    let ids: Vec<Uuid> = first.iter().map(|stream| stream.order_id).collect();
    let expected: Vec<Uuid> = orders[..2].iter().map(|order| order.as_uuid()).collect();
    assert_eq!(ids, expected);
    let versions: Vec<u64> = first[0].events.iter().map(|e| e.version).collect();
    assert_eq!(versions, [1, 2]);
    assert!(
        first[0].quiet_for >= Duration::ZERO && first[0].quiet_for < Duration::minutes(1),
        "just written: {:?}",
        first[0].quiet_for
    );
    let second = stores
        .order_audit
        .streams(Some(orders[1].as_uuid()), 2)
        .await
        .expect("page");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].order_id, orders[2].as_uuid());
    assert_eq!(second[0].events.len(), 3);
    let after_last = stores
        .order_audit
        .streams(Some(orders[2].as_uuid()), 2)
        .await;
    assert!(after_last.expect("page").is_empty());
}

/// A pending deadline says how long ago it fell due, negative while it is ahead.
pub async fn pending_deadlines_say_how_long_ago_they_fell_due(stores: AuditStores) {
    let (due, ahead) = (new_order_id(), new_order_id());
    let mut tx = stores.order.begin().await.expect("begin");
    tx.set_deadline(due, SagaStep::AwaitingStock, StdDuration::ZERO)
        .await
        .expect("deadline");
    tx.set_deadline(
        ahead,
        SagaStep::AwaitingPayment,
        StdDuration::from_secs(3600),
    )
    .await
    .expect("deadline");
    tx.commit().await.expect("commit");

    let deadlines = stores
        .order_audit
        .pending_deadlines()
        .await
        .expect("deadlines");
    assert_eq!(deadlines.len(), 2);
    let of = |order: OrderId| {
        deadlines
            .iter()
            .find(|deadline| deadline.order_id == order.as_uuid())
            .expect("listed")
    };
    assert_eq!(of(due).step, SagaStep::AwaitingStock);
    assert!(of(due).overdue_by >= Duration::ZERO, "{:?}", of(due));
    assert_eq!(of(ahead).step, SagaStep::AwaitingPayment);
    assert!(
        of(ahead).overdue_by < -Duration::minutes(59),
        "{:?}",
        of(ahead)
    );
}

/// Stock counters and reservations are read as stored, and follow a release.
pub async fn stock_counters_and_reservations_are_read_as_stored(stores: AuditStores) {
    let (kept, released) = (new_order_id(), new_order_id());
    let mut tx = stores.inventory.begin().await.expect("begin");
    tx.create_stock(&sku("product-002"), 10)
        .await
        .expect("create");
    tx.create_stock(&sku("product-001"), 5)
        .await
        .expect("create");
    for (order, quantity) in [(kept, 2), (released, 3)] {
        let line = StockLine {
            product_id: sku("product-002"),
            quantity: Quantity::new(quantity).expect("a valid quantity"),
        };
        tx.reserve(order, &[line])
            .await
            .expect("reserve")
            .expect("enough");
    }
    tx.release(released).await.expect("release");
    tx.commit().await.expect("commit");

    let counters = stores
        .inventory_audit
        .stock_counters()
        .await
        .expect("counters");
    let counters_of = |sku: &str, available, reserved| StockCounters {
        sku: sku.into(),
        available,
        reserved,
        sold: 0,
        initial: available + reserved,
        restocked: 0,
    };
    assert_eq!(
        counters,
        [
            counters_of("product-001", 5, 0),
            counters_of("product-002", 8, 2)
        ]
    );
    let mut expected = [
        ReservationRecord {
            order_id: kept.as_uuid(),
            status: ReservationStatus::Held,
        },
        ReservationRecord {
            order_id: released.as_uuid(),
            status: ReservationStatus::Released,
        },
    ];
    expected.sort_by_key(|reservation| reservation.order_id);
    let reservations = stores.inventory_audit.reservations().await;
    assert_eq!(reservations.expect("reservations"), expected);
}

/// The read model comes in pages of orders in id order, each with its kept events and its
/// saved view, whether it has both, only events, or only a view.
pub async fn the_read_model_is_paged_by_order_with_kept_events_and_views(stores: AuditStores) {
    let (both, events_only, view_only) = (placed(), placed(), placed());
    let view_of_both = fold(&both);
    let mut tx = stores.query.begin().await.expect("begin");
    tx.keep_event(&both).await.expect("keep");
    tx.keep_event(&events_only).await.expect("keep");
    tx.save_view(&view_of_both).await.expect("save");
    tx.save_view(&fold(&view_only)).await.expect("save");
    tx.commit().await.expect("commit");
    let mut orders = [
        both.correlation_id,
        events_only.correlation_id,
        view_only.correlation_id,
    ];
    orders.sort();

    let first = stores.query_audit.read_model(None, 2).await.expect("page");
    let rest = stores
        .query_audit
        .read_model(first.last().map(|entry| entry.order_id), 2)
        .await
        .expect("page");
    let entries: Vec<_> = first.into_iter().chain(rest).collect();
    let ids: Vec<Uuid> = entries.iter().map(|entry| entry.order_id).collect();
    assert_eq!(ids, orders);
    let entry = |order| {
        entries
            .iter()
            .find(|entry| entry.order_id == order)
            .expect("listed")
    };
    assert_eq!(
        entry(both.correlation_id).events,
        std::slice::from_ref(&both)
    );
    assert_eq!(entry(both.correlation_id).view, Some(view_of_both));
    assert_eq!(
        entry(events_only.correlation_id).events,
        std::slice::from_ref(&events_only)
    );
    assert_eq!(entry(events_only.correlation_id).view, None);
    assert!(entry(view_only.correlation_id).events.is_empty());
    assert!(entry(view_only.correlation_id).view.is_some());
}

/// A new order's `order.placed`.
fn placed() -> Envelope {
    let placed_at = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
    let message = Message::from(OrderPlaced {
        order_id: new_order_id(),
        customer_email: Email::parse("ada@example.com").expect("a valid email"),
        items: vec![OrderLine {
            product_id: sku("product-002"),
            name: "Mouse".into(),
            quantity: Quantity::new(1).expect("a valid quantity"),
            unit_price_minor: 2_599,
        }],
        total_minor: 2_599,
        currency: "USD".into(),
        payment_reference: "sha256:00112233445566778899aabb".into(),
        placed_at,
    });
    Envelope::build(Uuid::now_v7(), &message).at(placed_at)
}

fn fold(event: &Envelope) -> query_domain::OrderView {
    query_domain::project(std::slice::from_ref(event))
        .expect("the event decodes")
        .expect("an order.placed makes a view")
}
