//! Given an order's payment (or none), when a charge or a refund is requested, then the gateway
//! is called, or the earlier answer is given again.

use contracts::value::{Money, OrderId};
use uuid::Uuid;

use crate::{OnCharge, OnRefund, Payment, PaymentStatus};

const EVERY_STATUS: [PaymentStatus; 4] = [
    PaymentStatus::Pending,
    PaymentStatus::Succeeded,
    PaymentStatus::Failed,
    PaymentStatus::Refunded,
];

fn payment(status: PaymentStatus) -> Payment {
    Payment {
        payment_id: Uuid::from_u128(2),
        order_id: OrderId::new(Uuid::from_u128(1)),
        amount: Money::new(207_300, "USD"),
        status,
        failure_reason: (status == PaymentStatus::Failed).then(|| "card declined".to_owned()),
    }
}

#[test]
fn the_first_charge_of_an_order_calls_the_gateway() {
    assert_eq!(Payment::on_charge(None), OnCharge::CallGateway);
}

#[test]
fn a_charge_cut_short_is_retried_through_the_gateway() {
    assert_eq!(
        Payment::on_charge(Some(&payment(PaymentStatus::Pending))),
        OnCharge::CallGateway
    );
}

#[test]
fn a_charged_order_is_never_charged_again() {
    for status in [PaymentStatus::Succeeded, PaymentStatus::Refunded] {
        assert_eq!(
            Payment::on_charge(Some(&payment(status))),
            OnCharge::AlreadySucceeded,
            "{status:?}"
        );
    }
}

#[test]
fn a_declined_charge_is_answered_with_the_same_reason() {
    assert_eq!(
        Payment::on_charge(Some(&payment(PaymentStatus::Failed))),
        OnCharge::AlreadyFailed("card declined".to_owned())
    );
}

#[test]
fn a_declined_charge_without_a_recorded_reason_is_answered_with_an_empty_one() {
    let declined = Payment {
        failure_reason: None,
        ..payment(PaymentStatus::Failed)
    };

    assert_eq!(
        Payment::on_charge(Some(&declined)),
        OnCharge::AlreadyFailed(String::new())
    );
}

#[test]
fn a_captured_payment_is_refunded_through_the_gateway() {
    assert_eq!(
        Payment::on_refund(Some(&payment(PaymentStatus::Succeeded))),
        OnRefund::CallGateway
    );
}

#[test]
fn a_refunded_payment_is_never_refunded_again() {
    assert_eq!(
        Payment::on_refund(Some(&payment(PaymentStatus::Refunded))),
        OnRefund::AlreadyRefunded
    );
}

#[test]
fn nothing_is_refunded_when_nothing_was_captured() {
    for existing in [
        None,
        Some(payment(PaymentStatus::Pending)),
        Some(payment(PaymentStatus::Failed)),
    ] {
        assert_eq!(
            Payment::on_refund(existing.as_ref()),
            OnRefund::NothingCaptured,
            "{existing:?}"
        );
    }
}

#[test]
fn only_a_captured_payment_reaches_the_refund_gateway() {
    let refunded: Vec<PaymentStatus> = EVERY_STATUS
        .into_iter()
        .filter(|status| Payment::on_refund(Some(&payment(*status))) == OnRefund::CallGateway)
        .collect();

    assert_eq!(refunded, vec![PaymentStatus::Succeeded]);
}

#[test]
fn payment_statuses_read_back_from_their_names() {
    for status in EVERY_STATUS {
        assert_eq!(PaymentStatus::parse(status.as_str()), Some(status));
    }
    assert_eq!(
        EVERY_STATUS.map(PaymentStatus::as_str),
        ["pending", "succeeded", "failed", "refunded"]
    );
    assert_eq!(PaymentStatus::parse("captured"), None);
}
