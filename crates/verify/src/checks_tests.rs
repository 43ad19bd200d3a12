//! Each check, given facts that break its invariant, reports exactly its kind; and waits for
//! work in flight (a deadline within its grace, an order not yet settled) without a word.

use contracts::value::{Money, OrderId};
use inventory_domain::ReservationStatus;
use order_domain::OrderStatus;
use order_domain::saga::SagaStep;
use payment_domain::{Payment, PaymentStatus};
use store::audit::{PendingDeadline, StockCounters};
use time::Duration;
use uuid::Uuid;

use crate::checks::{Limits, all};
use crate::facts::{Facts, OrderFacts};
use crate::report::Kind;

const LIMITS: Limits = Limits {
    grace: Duration::seconds(10),
    settle: Duration::seconds(5),
};

fn settled(status: OrderStatus) -> OrderFacts {
    OrderFacts {
        status,
        quiet_for: Duration::minutes(1),
        paid_with: vec![],
    }
}

fn fresh(status: OrderStatus) -> OrderFacts {
    OrderFacts {
        quiet_for: Duration::seconds(1),
        ..settled(status)
    }
}

/// Facts about one order, consistent in every service: its view, reservation and payment
/// agree with its status.
fn one_order(order: OrderFacts) -> (Facts, Uuid) {
    let order_id = Uuid::now_v7();
    let mut facts = Facts::default();
    facts
        .views
        .insert(order_id, Some(order.status.as_str().to_owned()));
    let (reservation, payment) = match order.status {
        OrderStatus::Completed => (
            Some(ReservationStatus::Committed),
            Some(PaymentStatus::Succeeded),
        ),
        OrderStatus::Cancelled => (Some(ReservationStatus::Released), None),
        _ => (None, None),
    };
    if let Some(reservation) = reservation {
        facts.reservations.insert(order_id, reservation);
    }
    let mut order = order;
    if let Some(status) = payment {
        let payment = payment_of(order_id, status);
        order.paid_with.push(payment.payment_id);
        facts.payments.push(payment);
    }
    facts.orders.insert(order_id, order);
    (facts, order_id)
}

fn payment_of(order_id: Uuid, status: PaymentStatus) -> Payment {
    Payment {
        payment_id: Uuid::now_v7(),
        order_id: OrderId::new(order_id),
        amount: Money::new(2_599, "USD"),
        status,
        failure_reason: None,
    }
}

fn deadline(order_id: Uuid, overdue_by: Duration) -> PendingDeadline {
    PendingDeadline {
        order_id,
        step: SagaStep::AwaitingStock,
        overdue_by,
    }
}

fn kinds(facts: &Facts) -> Vec<Kind> {
    all(facts, LIMITS).into_iter().map(|v| v.kind).collect()
}

#[test]
fn consistent_orders_in_every_state_break_nothing() {
    for status in [OrderStatus::Completed, OrderStatus::Cancelled] {
        let (facts, _) = one_order(settled(status));
        assert_eq!(kinds(&facts), [], "{status}");
    }
    let (mut facts, order_id) = one_order(settled(OrderStatus::Pending));
    facts
        .deadlines
        .insert(order_id, deadline(order_id, Duration::seconds(-20)));
    assert_eq!(kinds(&facts), []);
}

#[test]
fn a_waiting_order_is_stuck_once_its_deadline_passed_by_more_than_the_grace() {
    let (mut facts, order_id) = one_order(settled(OrderStatus::Pending));
    facts
        .deadlines
        .insert(order_id, deadline(order_id, Duration::seconds(9)));
    assert_eq!(kinds(&facts), [], "within the grace");
    facts
        .deadlines
        .insert(order_id, deadline(order_id, Duration::seconds(11)));
    let found = all(&facts, LIMITS);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, Kind::OrderStuck);
    assert_eq!(
        found[0].detail,
        "PENDING and its awaiting_stock deadline passed 11s ago"
    );
}

#[test]
fn a_waiting_order_without_a_deadline_is_stuck_once_settled() {
    let (mut facts, order_id) = one_order(fresh(OrderStatus::InventoryReserved));
    assert_eq!(kinds(&facts), [], "its deadline may be on its way");
    facts
        .orders
        .insert(order_id, settled(OrderStatus::InventoryReserved));
    assert_eq!(kinds(&facts), [Kind::OrderStuck]);
}

#[test]
fn stock_below_zero_or_out_of_balance_is_reported_per_product() {
    let mut facts = Facts::default();
    let counters = |sku: &str, available, initial| StockCounters {
        sku: sku.into(),
        available,
        reserved: 2,
        sold: 3,
        initial,
        restocked: 0,
    };
    facts.stock = vec![
        counters("balanced", 5, 10),
        counters("negative", -1, 4),
        counters("unbalanced", 5, 11),
    ];
    let found = all(&facts, LIMITS);
    let found: Vec<(Kind, &str)> = found.iter().map(|v| (v.kind, v.subject.as_str())).collect();
    assert_eq!(
        found,
        [
            (Kind::NegativeStock, "product negative"),
            (Kind::StockUnbalanced, "product unbalanced"),
        ]
    );
}

#[test]
fn two_captured_payments_for_one_order_are_a_double_charge() {
    let (mut facts, order_id) = one_order(settled(OrderStatus::Completed));
    let second = Uuid::now_v7();
    facts
        .orders
        .get_mut(&order_id)
        .expect("the order")
        .paid_with
        .push(second);
    assert_eq!(kinds(&facts), [Kind::DoubleCharge]);
}

#[test]
fn a_settled_cancelled_order_keeping_its_charge_is_reported() {
    let (mut facts, order_id) = one_order(fresh(OrderStatus::Cancelled));
    facts
        .payments
        .push(payment_of(order_id, PaymentStatus::Succeeded));
    assert_eq!(kinds(&facts), [], "the refund may be on its way");
    facts
        .orders
        .insert(order_id, settled(OrderStatus::Cancelled));
    assert_eq!(kinds(&facts), [Kind::CancelledOrderCharged]);
}

#[test]
fn a_refund_is_reported_unless_its_order_was_cancelled() {
    let (mut facts, order_id) = one_order(settled(OrderStatus::Cancelled));
    facts
        .payments
        .push(payment_of(order_id, PaymentStatus::Refunded));
    assert_eq!(kinds(&facts), [], "a late charge refunded");
    let (mut facts, order_id) = one_order(settled(OrderStatus::Completed));
    facts.payments[0].status = PaymentStatus::Refunded;
    assert_eq!(kinds(&facts), [Kind::RefundWithoutCancel]);
    facts.orders.remove(&order_id);
    facts.views.clear();
    facts.reservations.clear();
    assert_eq!(
        kinds(&facts),
        [Kind::RefundWithoutCancel],
        "an unknown order"
    );
}

#[test]
fn an_order_paid_without_a_captured_payment_is_reported() {
    let (mut facts, _) = one_order(settled(OrderStatus::Completed));
    facts.payments[0].status = PaymentStatus::Failed;
    assert_eq!(kinds(&facts), [Kind::PaidWithoutCapture]);
    facts.payments.clear();
    let found = all(&facts, LIMITS);
    assert_eq!(
        found[0].detail,
        "recorded as paid, but the payment service holds no payment"
    );
}

#[test]
fn reservations_must_agree_with_how_their_order_ended() {
    let cases = [
        (
            OrderStatus::Completed,
            Some(ReservationStatus::Held),
            Kind::StockHeldForEndedOrder,
        ),
        (
            OrderStatus::Cancelled,
            Some(ReservationStatus::Held),
            Kind::StockHeldForEndedOrder,
        ),
        (
            OrderStatus::Completed,
            Some(ReservationStatus::Released),
            Kind::ReservationContradictsOrder,
        ),
        (
            OrderStatus::Completed,
            None,
            Kind::ReservationContradictsOrder,
        ),
        (
            OrderStatus::Cancelled,
            Some(ReservationStatus::Committed),
            Kind::ReservationContradictsOrder,
        ),
    ];
    for (status, reservation, kind) in cases {
        let (mut facts, order_id) = one_order(settled(status));
        facts.reservations.remove(&order_id);
        if let Some(reservation) = reservation {
            facts.reservations.insert(order_id, reservation);
        }
        assert_eq!(kinds(&facts), [kind], "{status} with {reservation:?}");
        facts
            .orders
            .get_mut(&order_id)
            .expect("the order")
            .quiet_for = Duration::ZERO;
        assert_eq!(
            kinds(&facts),
            [],
            "not settled: {status} with {reservation:?}"
        );
    }
}

#[test]
fn a_settled_order_must_be_in_the_read_model_with_its_status() {
    let (mut facts, order_id) = one_order(settled(OrderStatus::Completed));
    facts.views.insert(order_id, Some("PAID".into()));
    assert_eq!(kinds(&facts), [Kind::ReadModelBehind]);
    facts.views.remove(&order_id);
    assert_eq!(kinds(&facts), [Kind::OrderMissingFromReadModel]);
    facts
        .orders
        .get_mut(&order_id)
        .expect("the order")
        .quiet_for = Duration::ZERO;
    assert_eq!(kinds(&facts), [], "the projection may lag");
}

#[test]
fn an_unreadable_order_is_left_out_of_the_payment_checks() {
    let (mut facts, order_id) = one_order(settled(OrderStatus::Completed));
    facts.orders.remove(&order_id);
    facts.unreadable.insert(order_id);
    facts.views.clear();
    facts.reservations.clear();
    assert_eq!(kinds(&facts), []);
}

#[test]
fn every_dead_letter_is_listed_for_an_operator() {
    let order_id = Uuid::now_v7();
    let envelope = contracts::Envelope::build(
        Uuid::now_v7(),
        &contracts::Message::from(contracts::ReleaseStock {
            order_id: OrderId::new(order_id),
        }),
    )
    .at(time::OffsetDateTime::UNIX_EPOCH);
    let facts = Facts {
        dead_letters: Some(vec![transport::DeadLetter {
            id: "inventory:7".into(),
            queue: contracts::Queue::Inventory,
            envelope,
            error: "handler rejected it".into(),
            attempts: 3,
            dead_lettered_at: time::OffsetDateTime::UNIX_EPOCH,
        }]),
        ..Facts::default()
    };
    let found = all(&facts, LIMITS);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, Kind::DeadLetter);
    assert_eq!(found[0].subject, "dead letter inventory:7");
    assert_eq!(
        found[0].detail,
        format!(
            "inventory.release for order {order_id} parked after 3 attempts: handler rejected it"
        )
    );
}
