//! Given / when / then for what the saga gives back: answers that arrive twice or after the
//! saga gave up, and the customer's cancels, compensated exactly once.

use contracts::Compensation;

use crate::OrderStatus::{Cancelled, Completed, InventoryReserved, Paid, Pending};
use crate::fixtures::{
    at, cancelled, nothing, order_in, payment_succeeded, refund_payment, release_stock, sku, when,
};
use crate::saga::{Deadline, SagaCommand, SagaDecision, SagaInput, SagaStep, react};
use crate::{OrderError, OrderEvent};

#[test]
fn a_late_stock_reservation_for_a_cancelled_order_is_released() {
    let decision = when(&order_in(Cancelled), SagaInput::StockReserved);

    assert_eq!(
        decision,
        SagaDecision {
            commands: vec![release_stock()],
            ..nothing()
        }
    );
}

#[test]
fn a_late_payment_for_a_cancelled_order_is_refunded() {
    let decision = when(&order_in(Cancelled), payment_succeeded());

    assert_eq!(
        decision,
        SagaDecision {
            commands: vec![refund_payment()],
            ..nothing()
        }
    );
}

#[test]
fn a_duplicate_stock_reservation_changes_nothing() {
    for status in [InventoryReserved, Paid, Completed] {
        assert_eq!(
            when(&order_in(status), SagaInput::StockReserved),
            nothing(),
            "{status}"
        );
    }
}

#[test]
fn a_duplicate_payment_changes_nothing() {
    for status in [Paid, Completed] {
        assert_eq!(
            when(&order_in(status), payment_succeeded()),
            nothing(),
            "{status}"
        );
    }
}

#[test]
fn a_late_refusal_changes_nothing() {
    let insufficient = SagaInput::StockInsufficient {
        product_id: sku("product-001"),
        requested: 2,
        available: 0,
    };
    let failed = SagaInput::PaymentFailed {
        reason: "card declined".to_owned(),
    };
    for status in [InventoryReserved, Paid, Completed, Cancelled] {
        assert_eq!(
            when(&order_in(status), insufficient.clone()),
            nothing(),
            "{status}"
        );
    }
    for status in [Pending, Paid, Completed, Cancelled] {
        assert_eq!(
            when(&order_in(status), failed.clone()),
            nothing(),
            "{status}"
        );
    }
}

#[test]
fn a_customer_can_cancel_a_pending_order_with_nothing_to_compensate() {
    let decision = when(&order_in(Pending), SagaInput::CancelRequested);

    assert_eq!(
        decision,
        SagaDecision {
            events: vec![cancelled("cancelled by the customer", vec![])],
            commands: vec![],
            deadline: Deadline::Clear,
        }
    );
}

#[test]
fn a_customer_cancel_after_the_reservation_releases_the_stock() {
    let decision = when(&order_in(InventoryReserved), SagaInput::CancelRequested);

    assert_eq!(
        decision,
        SagaDecision {
            events: vec![cancelled(
                "cancelled by the customer",
                vec![Compensation::ReleaseStock]
            )],
            commands: vec![release_stock()],
            deadline: Deadline::Clear,
        }
    );
}

#[test]
fn a_customer_cancel_of_a_paid_order_releases_the_stock_and_refunds_the_payment() {
    let decision = when(&order_in(Paid), SagaInput::CancelRequested);

    assert_eq!(
        decision,
        SagaDecision {
            events: vec![cancelled(
                "cancelled by the customer",
                vec![Compensation::ReleaseStock, Compensation::RefundPayment]
            )],
            commands: vec![release_stock(), refund_payment()],
            deadline: Deadline::Clear,
        }
    );
}

#[test]
fn a_completed_order_cannot_be_cancelled_by_the_customer() {
    assert_eq!(
        react(&order_in(Completed), SagaInput::CancelRequested, at(3)),
        Err(OrderError::IllegalTransition {
            from: Completed,
            action: "be cancelled"
        })
    );
}

#[test]
fn cancelling_a_cancelled_order_again_changes_nothing() {
    assert_eq!(
        when(&order_in(Cancelled), SagaInput::CancelRequested),
        nothing()
    );
}

#[test]
fn the_compensations_recorded_on_a_cancel_are_the_commands_it_sends() {
    let inputs = [
        SagaInput::CancelRequested,
        SagaInput::DeadlineExpired(SagaStep::AwaitingStock),
        SagaInput::DeadlineExpired(SagaStep::AwaitingPayment),
        SagaInput::PaymentFailed {
            reason: "card declined".to_owned(),
        },
    ];
    let mut cancels = 0;
    for status in [Pending, InventoryReserved, Paid] {
        for input in inputs.clone() {
            let decision = when(&order_in(status), input.clone());
            let Some(OrderEvent::Cancelled(cancel)) = decision.events.first() else {
                continue;
            };
            let sent: Vec<Compensation> = decision
                .commands
                .iter()
                .map(|command| match command {
                    SagaCommand::ReleaseStock(_) => Compensation::ReleaseStock,
                    SagaCommand::RefundPayment(_) => Compensation::RefundPayment,
                    other => panic!("a cancel sends only compensations, got {other:?}"),
                })
                .collect();
            assert_eq!(cancel.compensations, sent, "{status} {input:?}");
            cancels += 1;
        }
    }
    assert_eq!(cancels, 6, "every input that can cancel was tried");
}
