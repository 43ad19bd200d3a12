//! The fold that builds views: same events, same view, whatever their order or repeats.

use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{
    Compensation, Envelope, Message, OrderCancelled, OrderCompleted, OrderInventoryReserved,
    OrderLine, OrderPaid, OrderPlaced,
};
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{Cursor, InvalidCursor, OrderView, project};

const EMAIL: &str = "ada@example.com";

fn at(seconds: i64) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + Duration::days(20_000) + Duration::seconds(seconds)
}

fn customer() -> Email {
    Email::parse(EMAIL).expect("a valid email")
}

fn new_order_id() -> OrderId {
    OrderId::new(Uuid::now_v7())
}

fn envelope(message: impl Into<Message>, seconds: i64) -> Envelope {
    Envelope::build(uuid::Uuid::now_v7(), &message.into()).at(at(seconds))
}

fn placed(order_id: OrderId) -> Envelope {
    let items = vec![
        OrderLine {
            product_id: Sku::parse("product-001").expect("a valid sku"),
            name: "Laptop".into(),
            quantity: Quantity::new(1).expect("a valid quantity"),
            unit_price_minor: 99_999,
        },
        OrderLine {
            product_id: Sku::parse("product-002").expect("a valid sku"),
            name: "Mouse".into(),
            quantity: Quantity::new(2).expect("a valid quantity"),
            unit_price_minor: 2_599,
        },
    ];
    let placed = OrderPlaced {
        order_id,
        customer_email: customer(),
        items,
        total_minor: 105_197,
        currency: "USD".into(),
        payment_reference: "sha256:00112233445566778899aabb".into(),
        placed_at: at(0),
    };
    envelope(placed, 0)
}

fn completed_order(order_id: OrderId) -> Vec<Envelope> {
    vec![
        placed(order_id),
        envelope(
            OrderInventoryReserved {
                order_id,
                reserved_at: at(1),
            },
            1,
        ),
        envelope(
            OrderPaid {
                order_id,
                payment_id: Uuid::now_v7(),
                amount_minor: 105_197,
                paid_at: at(2),
            },
            2,
        ),
        envelope(
            OrderCompleted {
                order_id,
                customer_email: customer(),
                items: Vec::new(),
                total_minor: 105_197,
                currency: "USD".into(),
                completed_at: at(3),
            },
            3,
        ),
    ]
}

fn view_of(events: &[Envelope]) -> OrderView {
    project(events)
        .expect("order events decode")
        .expect("a placed order has a view")
}

#[test]
fn a_completed_order_shows_its_items_total_and_every_step() {
    let order_id = new_order_id();
    let view = view_of(&completed_order(order_id));

    assert_eq!(view.order_id, order_id.as_uuid());
    assert_eq!(view.status, "COMPLETED");
    assert_eq!(view.total, "1051.97");
    assert_eq!(view.items[1].line_total, "51.98");
    assert_eq!(view.created_at, at(0));
    assert_eq!(view.updated_at, at(3));
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

#[test]
fn events_in_reverse_order_and_twice_over_give_the_same_view() {
    let events = completed_order(new_order_id());
    let mut scrambled: Vec<Envelope> = events.iter().rev().cloned().collect();
    scrambled.extend(events.iter().cloned());

    assert_eq!(view_of(&scrambled), view_of(&events));
}

proptest! {
    #[test]
    fn any_order_with_any_repeats_gives_the_same_view(
        repeats in prop::collection::vec(0..4_usize, 0..6),
        seed in any::<u64>(),
    ) {
        let events = completed_order(new_order_id());
        let mut delivered = events.clone();
        delivered.extend(repeats.iter().map(|&index| events[index].clone()));
        shuffle(&mut delivered, seed);

        prop_assert_eq!(view_of(&delivered), view_of(&events));
    }
}

/// A deterministic Fisher–Yates shuffle driven by a xorshift generator.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    seed |= 1;
    for upper in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let index = usize::try_from(seed % (upper as u64 + 1)).expect("index fits");
        items.swap(upper, index);
    }
}

#[test]
fn a_cancelled_order_carries_its_reason_and_compensations() {
    let order_id = new_order_id();
    let reason = "payment declined: card expired";
    let events = vec![
        placed(order_id),
        envelope(
            OrderInventoryReserved {
                order_id,
                reserved_at: at(1),
            },
            1,
        ),
        envelope(
            OrderCancelled {
                order_id,
                customer_email: customer(),
                reason: reason.into(),
                compensations: vec![Compensation::ReleaseStock, Compensation::RefundPayment],
                cancelled_at: at(5),
            },
            5,
        ),
    ];

    let view = view_of(&events);

    assert_eq!(view.status, "CANCELLED");
    assert_eq!(view.cancellation_reason.as_deref(), Some(reason));
    let last = view.history.last().expect("a history");
    assert_eq!(last.step, "order.cancelled");
    assert_eq!(
        last.detail.as_deref(),
        Some("payment declined: card expired; compensations: release stock, refund payment")
    );
}

#[test]
fn there_is_no_view_before_the_order_is_placed() {
    let order_id = new_order_id();
    let events = vec![envelope(
        OrderInventoryReserved {
            order_id,
            reserved_at: at(1),
        },
        1,
    )];
    assert_eq!(project(&events).expect("decodes"), None);
}

#[test]
fn an_event_that_cannot_be_decoded_is_an_error_not_a_gap() {
    let mut broken = placed(new_order_id());
    broken.payload = serde_json::json!({"order_id": "not a uuid"});
    assert!(project(&[broken]).is_err());
}

#[test]
fn a_cursor_reads_back_as_the_position_it_was_made_from() {
    let view = view_of(&completed_order(new_order_id()));
    let cursor = Cursor::at(&view);
    assert_eq!(cursor.created_at_ms, at(0).unix_timestamp() * 1000);
    assert_eq!(cursor.to_string().parse::<Cursor>(), Ok(cursor));
}

#[test]
fn a_malformed_cursor_is_rejected() {
    for raw in [
        "",
        "abc",
        "123",
        "123_",
        "_0190b5a4-7c2e-7d3a-9f00-000000000001",
        "x_0190b5a4-7c2e-7d3a-9f00-000000000001",
    ] {
        assert_eq!(raw.parse::<Cursor>(), Err(InvalidCursor), "{raw:?}");
    }
}
