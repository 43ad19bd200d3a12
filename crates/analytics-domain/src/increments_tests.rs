use std::collections::BTreeMap;

use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{
    OrderCancelled, OrderCompleted, OrderLine, OrderPlaced, PaymentFailed, PaymentSucceeded,
    StockInsufficient,
};
use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::datetime;
use uuid::Uuid;

use super::*;
use crate::Bucket;

const PLACED: OffsetDateTime = datetime!(2026-12-03 10:00:30 UTC);
const COMPLETED: OffsetDateTime = datetime!(2026-12-03 10:01:10 UTC);

fn order_id(n: u128) -> OrderId {
    OrderId::new(Uuid::from_u128(n))
}

fn line(product: &str, quantity: u32, unit_price_minor: i64) -> OrderLine {
    OrderLine {
        product_id: Sku::parse(product).expect("sku"),
        name: product.to_owned(),
        quantity: Quantity::new(quantity).expect("quantity"),
        unit_price_minor,
    }
}

fn placed(n: u128) -> Message {
    Message::OrderPlaced(OrderPlaced {
        order_id: order_id(n),
        customer_email: Email::parse("a@example.com").expect("email"),
        items: vec![line("product-002", 2, 1_250)],
        total_minor: 2_500,
        currency: "EUR".to_owned(),
        payment_reference: "sha256:00".to_owned(),
        placed_at: PLACED,
    })
}

fn completed(n: u128) -> Message {
    Message::OrderCompleted(OrderCompleted {
        order_id: order_id(n),
        customer_email: Email::parse("a@example.com").expect("email"),
        items: vec![line("product-002", 2, 1_250), line("product-003", 1, 99)],
        total_minor: 2_599,
        currency: "EUR".to_owned(),
        completed_at: COMPLETED,
    })
}

fn cancelled(n: u128, reason: &str) -> Message {
    Message::OrderCancelled(OrderCancelled {
        order_id: order_id(n),
        customer_email: Email::parse("a@example.com").expect("email"),
        reason: reason.to_owned(),
        compensations: vec![],
        cancelled_at: COMPLETED,
    })
}

#[test]
fn a_completion_counts_the_order_its_revenue_and_each_products_units_and_revenue() {
    let counted = increments(&completed(1), PLACED);
    let at = millis(COMPLETED);
    assert_eq!(
        counted,
        [
            Increment::new(Metric::OrdersCompleted, "", at, 1),
            Increment::new(Metric::RevenueMinor, "EUR", at, 2_599),
            Increment::new(Metric::ProductUnits, "product-002", at, 2),
            Increment::new(Metric::ProductRevenueMinor, "product-002:EUR", at, 2_500),
            Increment::new(Metric::ProductUnits, "product-003", at, 1),
            Increment::new(Metric::ProductRevenueMinor, "product-003:EUR", at, 99),
        ]
    );
}

#[test]
fn a_cancellation_is_counted_by_its_reasons_class() {
    let counted = increments(&cancelled(1, "payment failed: declined"), PLACED);
    assert_eq!(
        counted,
        [Increment::new(
            Metric::OrdersCancelled,
            "payment",
            millis(COMPLETED),
            1
        )]
    );
}

#[test]
fn replies_count_payments_and_stock_outs_at_their_envelopes_time() {
    let at = millis(PLACED);
    let failed = Message::PaymentFailed(PaymentFailed {
        order_id: order_id(1),
        reason: "declined".to_owned(),
    });
    let succeeded = Message::PaymentSucceeded(PaymentSucceeded {
        order_id: order_id(1),
        payment_id: Uuid::from_u128(9),
        amount_minor: 1,
    });
    let insufficient = Message::StockInsufficient(StockInsufficient {
        order_id: order_id(1),
        product_id: Sku::parse("product-001").expect("sku"),
        requested: 500,
        available: 100,
    });
    assert_eq!(
        increments(&failed, PLACED),
        [Increment::new(Metric::PaymentsFailed, "", at, 1)]
    );
    assert_eq!(
        increments(&succeeded, PLACED),
        [Increment::new(Metric::PaymentsSucceeded, "", at, 1)]
    );
    assert_eq!(
        increments(&insufficient, PLACED),
        [Increment::new(Metric::StockOuts, "product-001", at, 1)]
    );
}

#[test]
fn the_completion_time_is_counted_by_the_second_of_the_two_events_whichever_it_is() {
    let placed_at = millis(PLACED);
    let completed_at = millis(COMPLETED);
    let expected = vec![
        Increment::new(Metric::CompletionTimeMs, "", completed_at, 40_000),
        Increment::new(Metric::CompletionsTimed, "", completed_at, 1),
    ];
    // In order.
    let first = completion(OrderTimes::default(), OrderMoment::Placed, placed_at);
    assert!(first.is_empty());
    let after = OrderTimes::default().with(OrderMoment::Placed, placed_at);
    assert_eq!(
        completion(after, OrderMoment::Completed, completed_at),
        expected
    );
    // Completion first.
    assert!(completion(OrderTimes::default(), OrderMoment::Completed, completed_at).is_empty());
    let after = OrderTimes::default().with(OrderMoment::Completed, completed_at);
    assert_eq!(completion(after, OrderMoment::Placed, placed_at), expected);
    // Seen again: nothing more.
    let both = after.with(OrderMoment::Placed, placed_at);
    assert!(completion(both, OrderMoment::Placed, placed_at).is_empty());
}

/// The counters after applying `events` in the given order, as the service does: each
/// event's own increments, plus the completion time when it is the second moment.
fn fold(events: &[Message]) -> BTreeMap<(&'static str, String, i64, &'static str), i64> {
    let mut times: BTreeMap<OrderId, OrderTimes> = BTreeMap::new();
    let mut counters = BTreeMap::new();
    for message in events {
        let mut counted = increments(message, PLACED);
        if let Some((moment, at)) = moment(message) {
            let before = times.get(&message.order_id()).copied().unwrap_or_default();
            counted.extend(completion(before, moment, at));
            times.insert(message.order_id(), before.with(moment, at));
        }
        for increment in counted {
            for bucket in Bucket::ALL {
                *counters
                    .entry((
                        increment.metric.name(),
                        increment.dimension.clone(),
                        bucket.start_of(increment.at_ms),
                        bucket.name(),
                    ))
                    .or_insert(0) += increment.value;
            }
        }
    }
    counters
}

proptest! {
    #[test]
    fn the_counters_do_not_depend_on_the_order_events_arrive_in(
        order in Just((0..9usize).collect::<Vec<_>>()).prop_shuffle()
    ) {
        let events = [
            placed(1), completed(1),
            placed(2), cancelled(2, "insufficient stock for product-001: requested 1, available 0"),
            placed(3), cancelled(3, "timed out waiting for the payment"),
            completed(4), placed(4),
            placed(5),
        ];
        let shuffled: Vec<Message> = order.iter().map(|&i| events[i].clone()).collect();
        prop_assert_eq!(fold(&shuffled), fold(&events));
    }
}
