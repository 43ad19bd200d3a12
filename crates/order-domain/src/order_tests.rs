//! Given / when / then for the Order aggregate: `decide` on a history, `evolve` of its events.

use contracts::value::{Money, MoneyError};
use contracts::{
    Compensation, Message, OrderCancelled, OrderInventoryReserved, OrderLine, StockReserved,
};

use crate::OrderStatus::{Cancelled, Completed, InventoryReserved, Paid, Pending};
use crate::fixtures::{
    CURRENCY, CUSTOMER, ORDER_ID, PAYMENT_ID, PAYMENT_REFERENCE, TOTAL_MINOR, at, customer, given,
    history_to, line, order_in, place_order, place_with, quantity, sku,
};
use crate::{OrderCommand, OrderError, OrderEvent, OrderStatus, decide, evolve, replay};

fn cancel(reason: &str) -> OrderCommand {
    OrderCommand::Cancel {
        reason: reason.to_owned(),
        at: at(9),
    }
}

#[test]
fn placing_an_order_records_its_priced_lines_and_their_total() {
    let events = decide(None, place_order()).expect("a valid order is placed");

    let [OrderEvent::Placed(placed)] = events.as_slice() else {
        panic!("expected one Placed event, got {events:?}");
    };
    assert_eq!(placed.order_id, ORDER_ID);
    assert_eq!(placed.customer_email.as_str(), CUSTOMER);
    assert_eq!(placed.currency, "EUR");
    assert_eq!(placed.payment_reference, PAYMENT_REFERENCE);
    assert_eq!(placed.placed_at, at(0));
    assert_eq!(
        placed.items,
        vec![
            OrderLine {
                product_id: sku("product-001"),
                name: "Laptop".to_owned(),
                quantity: quantity(2),
                unit_price_minor: 99_900,
            },
            OrderLine {
                product_id: sku("product-002"),
                name: "Mouse".to_owned(),
                quantity: quantity(3),
                unit_price_minor: 2_500,
            },
        ]
    );
    assert_eq!(placed.total_minor, 207_300);
    assert_eq!(placed.total_minor, TOTAL_MINOR);
}

#[test]
fn placing_an_order_without_items_is_rejected() {
    assert_eq!(decide(None, place_with(vec![])), Err(OrderError::NoItems));
}

#[test]
fn placing_an_order_that_exists_is_rejected() {
    for status in OrderStatus::ALL {
        let order = order_in(status);
        assert_eq!(
            decide(Some(&order), place_order()),
            Err(OrderError::AlreadyPlaced),
            "{status}"
        );
    }
}

#[test]
fn commands_to_an_order_never_placed_are_rejected() {
    let commands = [
        OrderCommand::ConfirmStock { at: at(1) },
        OrderCommand::ConfirmPayment {
            payment_id: PAYMENT_ID,
            amount_minor: TOTAL_MINOR,
            at: at(2),
        },
        cancel("cancelled by the customer"),
    ];
    for command in commands {
        assert_eq!(decide(None, command), Err(OrderError::NotPlaced));
    }
}

#[test]
fn a_placed_order_is_pending_with_no_payment_and_no_reason() {
    let order = given(&history_to(Pending)).expect("the order is placed");

    assert_eq!(order.id, ORDER_ID);
    assert_eq!(order.status, Pending);
    assert_eq!(order.total, Money::new(TOTAL_MINOR, CURRENCY));
    assert_eq!(order.payment_id, None);
    assert_eq!(order.cancellation_reason, None);
    assert_eq!((order.placed_at, order.updated_at), (at(0), at(0)));
    assert!(!order.holds_stock());
}

#[test]
fn confirming_stock_of_a_pending_order_reserves_its_inventory() {
    let order = order_in(Pending);

    let events =
        decide(Some(&order), OrderCommand::ConfirmStock { at: at(1) }).expect("stock confirmed");

    assert_eq!(
        events,
        vec![OrderEvent::InventoryReserved(OrderInventoryReserved {
            order_id: ORDER_ID,
            reserved_at: at(1),
        })]
    );
    let order = given(&history_to(InventoryReserved)).expect("the order is placed");
    assert_eq!((order.status, order.updated_at), (InventoryReserved, at(1)));
    assert!(order.holds_stock());
}

#[test]
fn stock_can_only_be_confirmed_while_the_order_is_pending() {
    for status in [InventoryReserved, Paid, Completed, Cancelled] {
        let order = order_in(status);
        assert_eq!(
            decide(Some(&order), OrderCommand::ConfirmStock { at: at(3) }),
            Err(OrderError::IllegalTransition {
                from: status,
                action: "confirm a stock reservation"
            }),
        );
    }
}

#[test]
fn confirming_payment_pays_and_completes_the_order_at_once() {
    let order = order_in(InventoryReserved);

    let events = decide(
        Some(&order),
        OrderCommand::ConfirmPayment {
            payment_id: PAYMENT_ID,
            amount_minor: TOTAL_MINOR,
            at: at(2),
        },
    )
    .expect("payment confirmed");

    let [OrderEvent::Paid(paid), OrderEvent::Completed(completed)] = events.as_slice() else {
        panic!("expected Paid then Completed, got {events:?}");
    };
    assert_eq!(
        (
            paid.order_id,
            paid.payment_id,
            paid.amount_minor,
            paid.paid_at
        ),
        (ORDER_ID, PAYMENT_ID, TOTAL_MINOR, at(2))
    );
    assert_eq!(completed.customer_email.as_str(), CUSTOMER);
    assert_eq!(
        (completed.total_minor, completed.currency.as_str()),
        (TOTAL_MINOR, "EUR")
    );
    let order = given(&history_to(Completed)).expect("the order is placed");
    assert_eq!(order.status, Completed);
    assert_eq!(order.payment_id, Some(PAYMENT_ID));
    assert!(!order.holds_stock(), "a completed order's stock is sold");
}

#[test]
fn payment_can_only_be_confirmed_once_stock_is_reserved() {
    for status in [Pending, Paid, Completed, Cancelled] {
        let order = order_in(status);
        let confirm = OrderCommand::ConfirmPayment {
            payment_id: PAYMENT_ID,
            amount_minor: TOTAL_MINOR,
            at: at(3),
        };
        assert_eq!(
            decide(Some(&order), confirm),
            Err(OrderError::IllegalTransition {
                from: status,
                action: "record a payment"
            }),
        );
    }
}

#[test]
fn cancelling_names_the_compensations_for_what_the_order_holds() {
    let cases = [
        (Pending, vec![]),
        (InventoryReserved, vec![Compensation::ReleaseStock]),
        (
            Paid,
            vec![Compensation::ReleaseStock, Compensation::RefundPayment],
        ),
    ];
    for (status, compensations) in cases {
        let order = order_in(status);

        let events = decide(Some(&order), cancel("cancelled by the customer")).expect("cancelled");

        assert_eq!(
            events,
            vec![OrderEvent::Cancelled(OrderCancelled {
                order_id: ORDER_ID,
                customer_email: customer(),
                reason: "cancelled by the customer".to_owned(),
                compensations,
                cancelled_at: at(9),
            })],
            "{status}"
        );
    }
}

#[test]
fn a_cancelled_order_keeps_its_reason() {
    let mut history = history_to(InventoryReserved);
    let order = given(&history).expect("the order is placed");
    history
        .extend(decide(Some(&order), cancel("payment failed: card declined")).expect("cancelled"));

    let order = given(&history).expect("the order is placed");

    assert_eq!(order.status, Cancelled);
    assert_eq!(
        order.cancellation_reason.as_deref(),
        Some("payment failed: card declined")
    );
    assert_eq!(order.updated_at, at(9));
    assert!(!order.holds_stock());
}

#[test]
fn a_terminal_order_cannot_be_cancelled() {
    for status in [Completed, Cancelled] {
        let order = order_in(status);
        assert_eq!(
            decide(Some(&order), cancel("cancelled by the customer")),
            Err(OrderError::IllegalTransition {
                from: status,
                action: "be cancelled"
            }),
        );
    }
}

#[test]
fn events_of_an_order_never_placed_leave_no_state() {
    let history = history_to(Completed);

    for event in &history[1..] {
        assert_eq!(evolve(None, event), None, "{event:?}");
    }
    assert_eq!(replay(&history[1..]), None);
}

#[test]
fn order_events_are_the_published_order_messages() {
    for event in history_to(Completed)
        .into_iter()
        .chain(history_to(Cancelled))
    {
        let message = Message::from(event.clone());
        assert!(message.message_type().starts_with("order."), "{message:?}");
        assert_eq!(message.order_id(), ORDER_ID);
        assert_eq!(OrderEvent::try_from(message), Ok(event));
    }
}

#[test]
fn a_message_that_is_not_an_order_event_is_handed_back() {
    let message = Message::from(StockReserved { order_id: ORDER_ID });

    assert_eq!(OrderEvent::try_from(message.clone()), Err(message));
}

#[test]
fn statuses_read_back_from_their_names_in_any_case() {
    for status in OrderStatus::ALL {
        assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        assert_eq!(
            OrderStatus::parse(&status.as_str().to_lowercase()),
            Some(status)
        );
        assert_eq!(status.to_string(), status.as_str());
    }
    assert_eq!(OrderStatus::parse("SHIPPED"), None);
    assert_eq!(
        OrderStatus::ALL.map(OrderStatus::is_terminal),
        [false, false, false, true, true]
    );
}

#[test]
fn the_total_of_many_lines_is_the_sum_of_quantity_times_price() {
    let lines = vec![
        line("product-001", "Laptop", 1, 99_900),
        line("product-002", "Mouse", 1000, 2_500),
        line("product-003", "Keyboard", 7, 4_999),
        line("product-003", "Keyboard", 1, 0),
    ];

    let order = given(&decide(None, place_with(lines)).expect("placed")).expect("placed");

    assert_eq!(
        order.total,
        Money::new(99_900 + 1000 * 2_500 + 7 * 4_999, CURRENCY)
    );
    assert_eq!(order.items.len(), 4);
}

#[test]
fn placing_an_order_whose_total_overflows_is_rejected_rather_than_wrapped() {
    let huge = i64::MAX / 2 + 1;
    for lines in [
        vec![line("product-001", "Laptop", 2, huge)],
        vec![
            line("product-001", "Laptop", 1, huge),
            line("product-002", "Mouse", 1, huge),
        ],
    ] {
        assert_eq!(
            decide(None, place_with(lines)),
            Err(OrderError::Total(MoneyError::Overflow))
        );
    }
}

#[test]
fn placing_an_order_priced_in_two_currencies_is_rejected() {
    let mut dollars = line("product-002", "Mouse", 1, 2_500);
    dollars.unit_price = Money::new(2_500, "USD");
    let lines = vec![line("product-001", "Laptop", 1, 99_900), dollars];

    assert_eq!(
        decide(None, place_with(lines)),
        Err(OrderError::Total(MoneyError::CurrencyMismatch {
            left: CURRENCY.to_owned(),
            right: "USD".to_owned(),
        }))
    );
}
