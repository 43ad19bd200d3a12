//! Given / when / then for the saga's path: given the order's history, when an answer or a
//! deadline arrives, then these events, these commands and this deadline.

use contracts::value::Money;
use contracts::{Compensation, Message, OrderInventoryReserved, ReserveStock, StockLine};

use crate::OrderStatus::{Cancelled, Completed, InventoryReserved, Pending};
use crate::fixtures::{
    CURRENCY, ORDER_ID, PAYMENT_ID, PAYMENT_REFERENCE, TOTAL_MINOR, at, cancelled, given, nothing,
    order_in, payment_succeeded, place_order, place_with, quantity, refund_payment, release_stock,
    sku, when,
};
use crate::saga::{
    ChargeRequest, Deadline, SagaCommand, SagaDecision, SagaInput, SagaStep, react, start,
};
use crate::{OrderError, OrderEvent};

#[test]
fn placing_an_order_reserves_its_stock_under_a_stock_deadline() {
    let decision = start(place_order()).expect("a valid order is placed");

    let placed = given(&decision.events).expect("the decision places the order");
    assert_eq!(
        (placed.status, placed.total),
        (Pending, Money::new(TOTAL_MINOR, CURRENCY))
    );
    assert_eq!(
        decision.commands,
        vec![SagaCommand::ReserveStock(ReserveStock {
            order_id: ORDER_ID,
            items: vec![
                StockLine {
                    product_id: sku("product-001"),
                    quantity: quantity(2)
                },
                StockLine {
                    product_id: sku("product-002"),
                    quantity: quantity(3)
                },
            ],
        })]
    );
    assert_eq!(decision.deadline, Deadline::Set(SagaStep::AwaitingStock));
}

#[test]
fn an_order_without_items_never_starts_a_saga() {
    assert_eq!(start(place_with(vec![])), Err(OrderError::NoItems));
}

#[test]
fn reserved_stock_confirms_the_order_and_charges_it_under_a_payment_deadline() {
    let decision = when(&order_in(Pending), SagaInput::StockReserved);

    assert_eq!(
        decision,
        SagaDecision {
            events: vec![OrderEvent::InventoryReserved(OrderInventoryReserved {
                order_id: ORDER_ID,
                reserved_at: at(3),
            })],
            commands: vec![SagaCommand::ChargePayment(ChargeRequest {
                order_id: ORDER_ID,
                amount_minor: TOTAL_MINOR,
                currency: "EUR".to_owned(),
                payment_reference: PAYMENT_REFERENCE.to_owned(),
            })],
            deadline: Deadline::Set(SagaStep::AwaitingPayment),
        }
    );
}

#[test]
fn order_is_cancelled_when_stock_is_insufficient() {
    let insufficient = SagaInput::StockInsufficient {
        product_id: sku("product-001"),
        requested: 1000,
        available: 100,
    };

    let decision = when(&order_in(Pending), insufficient);

    assert_eq!(
        decision,
        SagaDecision {
            events: vec![cancelled(
                "insufficient stock for product-001: requested 1000, available 100",
                vec![]
            )],
            commands: vec![],
            deadline: Deadline::Clear,
        }
    );
}

#[test]
fn a_successful_payment_pays_and_completes_the_order_and_clears_the_deadline() {
    let decision = when(&order_in(InventoryReserved), payment_succeeded());

    let [OrderEvent::Paid(paid), OrderEvent::Completed(completed)] = decision.events.as_slice()
    else {
        panic!("expected Paid then Completed, got {:?}", decision.events);
    };
    assert_eq!(
        (paid.payment_id, paid.amount_minor, paid.paid_at),
        (PAYMENT_ID, TOTAL_MINOR, at(3))
    );
    assert_eq!(
        (completed.total_minor, completed.completed_at),
        (TOTAL_MINOR, at(3))
    );
    assert_eq!(decision.commands, vec![]);
    assert_eq!(decision.deadline, Deadline::Clear);
}

#[test]
fn a_failed_payment_cancels_the_order_and_releases_its_stock() {
    let failed = SagaInput::PaymentFailed {
        reason: "card declined".to_owned(),
    };

    let decision = when(&order_in(InventoryReserved), failed);

    assert_eq!(
        decision,
        SagaDecision {
            events: vec![cancelled(
                "payment failed: card declined",
                vec![Compensation::ReleaseStock]
            )],
            commands: vec![release_stock()],
            deadline: Deadline::Clear,
        }
    );
}

#[test]
fn an_expired_stock_deadline_cancels_the_order_with_nothing_to_compensate() {
    let decision = when(
        &order_in(Pending),
        SagaInput::DeadlineExpired(SagaStep::AwaitingStock),
    );

    assert_eq!(
        decision,
        SagaDecision {
            events: vec![cancelled(
                "timed out waiting for the stock reservation",
                vec![]
            )],
            commands: vec![],
            deadline: Deadline::Clear,
        }
    );
}

#[test]
fn an_expired_payment_deadline_cancels_the_order_and_releases_its_stock() {
    let decision = when(
        &order_in(InventoryReserved),
        SagaInput::DeadlineExpired(SagaStep::AwaitingPayment),
    );

    assert_eq!(
        decision,
        SagaDecision {
            events: vec![cancelled(
                "timed out waiting for the payment",
                vec![Compensation::ReleaseStock]
            )],
            commands: vec![release_stock()],
            deadline: Deadline::Clear,
        }
    );
}

#[test]
fn a_deadline_that_fires_after_the_order_ended_only_clears_it() {
    for status in [Completed, Cancelled] {
        for step in [SagaStep::AwaitingStock, SagaStep::AwaitingPayment] {
            let decision = when(&order_in(status), SagaInput::DeadlineExpired(step));

            assert_eq!(
                decision,
                SagaDecision {
                    deadline: Deadline::Clear,
                    ..nothing()
                },
                "{status} {step:?}"
            );
        }
    }
}

#[test]
fn a_stale_deadline_of_a_waiting_order_only_clears_itself() {
    // The stock deadline fired while the reservation was being recorded: the order now waits for
    // its payment. The decision is to clear the deadline that fired; the order service clears it
    // only if it is still for that step (`clear_deadline(order_id, only: Some(fired))`), so the
    // payment deadline survives.
    let stale = [
        (InventoryReserved, SagaStep::AwaitingStock),
        (Pending, SagaStep::AwaitingPayment),
    ];
    for (status, step) in stale {
        let decision = when(&order_in(status), SagaInput::DeadlineExpired(step));

        assert_eq!(
            decision,
            SagaDecision {
                deadline: Deadline::Clear,
                ..nothing()
            },
            "{status} {step:?}"
        );
    }
}

#[test]
fn a_payment_before_the_stock_reservation_is_rejected() {
    assert_eq!(
        react(&order_in(Pending), payment_succeeded(), at(3)),
        Err(OrderError::IllegalTransition {
            from: Pending,
            action: "be paid before its stock is reserved"
        })
    );
}

#[test]
fn saga_commands_are_the_published_command_messages() {
    let charge = when(&order_in(Pending), SagaInput::StockReserved).commands;
    let reserve = start(place_order()).expect("placed").commands;
    let commands = charge
        .into_iter()
        .chain(reserve)
        .chain([release_stock(), refund_payment()]);

    let messages: Vec<(&str, _)> = commands
        .map(|command| {
            command
                .into_message()
                .unwrap_or_else(|charge| Message::from(charge.with_token("tok_visa".to_owned())))
        })
        .map(|message| (message.message_type(), message.order_id()))
        .collect();

    assert_eq!(
        messages,
        vec![
            ("payment.charge", ORDER_ID),
            ("inventory.reserve", ORDER_ID),
            ("inventory.release", ORDER_ID),
            ("payment.refund", ORDER_ID),
        ]
    );
}

#[test]
fn saga_steps_read_back_from_their_names() {
    for step in [SagaStep::AwaitingStock, SagaStep::AwaitingPayment] {
        assert_eq!(SagaStep::parse(step.as_str()), Some(step));
    }
    assert_eq!(SagaStep::parse("awaiting_shipment"), None);
}
