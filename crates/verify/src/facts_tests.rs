//! Folding what the audit ports read: an order's stream into its facts, and the read model's
//! entry into its view's status and whether that view is the fold of its kept events.

use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{Envelope, Message, OrderLine, OrderPlaced, PaymentSucceeded, StockReleased};
use order_domain::{OrderCommand, OrderEvent, OrderStatus, decide, replay};
use store::audit::{AuditedStream, ReadModelEntry};
use store::order::RecordedEvent;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::facts::{order_facts, read_model_facts};
use crate::report::Kind;

const AT: OffsetDateTime = OffsetDateTime::UNIX_EPOCH;

fn envelope(message: impl Into<Message>) -> Envelope {
    Envelope::build(Uuid::now_v7(), &message.into()).at(AT)
}

fn placed(order_id: Uuid) -> OrderPlaced {
    OrderPlaced {
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
        placed_at: AT,
    }
}

fn stream(order_id: Uuid, envelopes: Vec<Envelope>) -> AuditedStream {
    AuditedStream {
        order_id,
        events: (1..)
            .zip(envelopes)
            .map(|(version, envelope)| RecordedEvent { version, envelope })
            .collect(),
        quiet_for: Duration::seconds(30),
    }
}

/// An order placed, reserved, paid with `payment_id` and completed, as envelopes.
fn completed(order_id: Uuid, payment_id: Uuid) -> Vec<Envelope> {
    let mut events = vec![OrderEvent::Placed(placed(order_id))];
    let pay = OrderCommand::ConfirmPayment {
        payment_id,
        amount_minor: 2_599,
        at: AT,
    };
    for command in [OrderCommand::ConfirmStock { at: AT }, pay] {
        let order = replay(&events).expect("placed");
        events.extend(decide(Some(&order), command).expect("allowed"));
    }
    events
        .into_iter()
        .map(|e| envelope(Message::from(e)))
        .collect()
}

#[test]
fn a_stream_folds_to_its_status_and_the_payments_it_recorded() {
    let (order_id, payment_id) = (Uuid::now_v7(), Uuid::now_v7());
    let facts = order_facts(&stream(order_id, completed(order_id, payment_id))).expect("facts");
    assert_eq!(facts.status, OrderStatus::Completed);
    assert_eq!(facts.paid_with, [payment_id]);
    assert_eq!(facts.quiet_for, Duration::seconds(30));
}

#[test]
fn a_stream_that_cannot_be_folded_is_unreadable() {
    let order_id = Uuid::now_v7();
    let mut future = envelope(placed(order_id));
    future.schema_version = 99;
    let violation = order_facts(&stream(order_id, vec![future])).expect_err("unreadable");
    assert_eq!(violation.kind, Kind::OrderUnreadable);
    assert!(
        violation
            .detail
            .starts_with("event 1 (order.placed) cannot be decoded")
    );
    let headless = stream(
        order_id,
        vec![envelope(StockReleased {
            order_id: OrderId::new(order_id),
        })],
    );
    let violation = order_facts(&headless).expect_err("no order.placed");
    assert_eq!(violation.detail, "its stream has no order.placed");
}

#[test]
fn a_saved_view_must_be_the_fold_of_its_kept_events() {
    let (order_id, payment_id) = (Uuid::now_v7(), Uuid::now_v7());
    let events = completed(order_id, payment_id);
    let fold = query_domain::project(&events).expect("folds");
    let entry = |events: &[Envelope], view| ReadModelEntry {
        order_id,
        events: events.to_vec(),
        view,
    };
    let (status, violation) = read_model_facts(&entry(&events, fold.clone()));
    assert_eq!(status.as_deref(), Some("COMPLETED"));
    assert_eq!(violation, None);

    let (_, behind) = read_model_facts(&entry(&events[..2], fold.clone()));
    let behind = behind.expect("a view ahead of its events");
    assert_eq!(behind.kind, Kind::ViewDiffersFromFold);
    assert_eq!(
        behind.detail,
        "the saved view is COMPLETED but its kept events fold to INVENTORY_RESERVED"
    );
    let (status, missing) = read_model_facts(&entry(&events, None));
    assert_eq!(status, None);
    assert!(missing.is_some());
    let mut unfoldable = events.clone();
    unfoldable[0].message_type = "order.misplaced".into();
    let (_, broken) = read_model_facts(&entry(&unfoldable, fold));
    assert!(
        broken
            .expect("unfoldable")
            .detail
            .starts_with("its kept events cannot be folded")
    );
    let other = envelope(PaymentSucceeded {
        order_id: OrderId::new(order_id),
        payment_id,
        amount_minor: 1,
    });
    let (_, ignored) = read_model_facts(&entry(&[other], None));
    assert_eq!(ignored, None, "no order.placed kept yet, no view saved");
}
