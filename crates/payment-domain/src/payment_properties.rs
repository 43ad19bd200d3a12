//! Properties of payments: whatever charge and refund requests arrive, in whatever order and
//! however often, an order is charged at most once, a decline is final, and a refund happens at
//! most once, after the charge.

use contracts::value::{Money, OrderId};
use proptest::prelude::*;
use uuid::Uuid;

use crate::{OnCharge, OnRefund, Payment, PaymentStatus};

/// How the gateway answers a charge call.
#[derive(Clone, Copy, Debug)]
enum GatewayAnswer {
    Captured,
    Declined,
    /// The call was cut short (timeout, crash): the payment stays pending.
    NoAnswer,
}

#[derive(Clone, Copy, Debug)]
enum Request {
    Charge(GatewayAnswer),
    Refund,
}

fn request() -> impl Strategy<Value = Request> {
    let answer = prop_oneof![
        Just(GatewayAnswer::Captured),
        Just(GatewayAnswer::Declined),
        Just(GatewayAnswer::NoAnswer),
    ];
    prop_oneof![3 => answer.prop_map(Request::Charge), 2 => Just(Request::Refund)]
}

/// The payment service as the rules drive it: one record per order, a gateway that counts.
#[derive(Default)]
struct PaymentService {
    record: Option<Payment>,
    captures: usize,
    declined: bool,
    refunds: usize,
}

impl PaymentService {
    fn set_status(&mut self, status: PaymentStatus, failure_reason: Option<String>) {
        let record = self
            .record
            .as_mut()
            .expect("the payment is recorded before the gateway is called");
        record.status = status;
        record.failure_reason = failure_reason;
    }

    fn charge(&mut self, answer: GatewayAnswer) -> Result<(), TestCaseError> {
        match Payment::on_charge(self.record.as_ref()) {
            OnCharge::CallGateway => {
                prop_assert_eq!(
                    self.captures,
                    0,
                    "the gateway is called again after a capture"
                );
                prop_assert!(
                    !self.declined,
                    "the gateway is called again after a decline"
                );
                // Recorded before the call, so a crash mid-call retries with the same key.
                self.record.get_or_insert_with(|| Payment {
                    payment_id: Uuid::from_u128(2),
                    order_id: OrderId::new(Uuid::from_u128(1)),
                    amount: Money::new(207_300, "USD"),
                    status: PaymentStatus::Pending,
                    failure_reason: None,
                });
                match answer {
                    GatewayAnswer::Captured => {
                        self.captures += 1;
                        self.set_status(PaymentStatus::Succeeded, None);
                    }
                    GatewayAnswer::Declined => {
                        self.declined = true;
                        self.set_status(PaymentStatus::Failed, Some("card declined".to_owned()));
                    }
                    GatewayAnswer::NoAnswer => {}
                }
            }
            OnCharge::AlreadySucceeded => prop_assert_eq!(self.captures, 1),
            OnCharge::AlreadyFailed(reason) => {
                prop_assert!(self.declined);
                prop_assert_eq!(self.captures, 0);
                prop_assert_eq!(reason, "card declined");
            }
        }
        Ok(())
    }

    fn refund(&mut self) -> Result<(), TestCaseError> {
        match Payment::on_refund(self.record.as_ref()) {
            OnRefund::CallGateway => {
                prop_assert_eq!(self.captures, 1, "refunded without a capture");
                prop_assert_eq!(self.refunds, 0, "refunded twice");
                self.refunds += 1;
                self.set_status(PaymentStatus::Refunded, None);
            }
            OnRefund::AlreadyRefunded => prop_assert_eq!(self.refunds, 1),
            OnRefund::NothingCaptured => prop_assert_eq!(self.captures, 0),
        }
        Ok(())
    }

    fn check_counts(&self) -> Result<(), TestCaseError> {
        prop_assert!(self.captures <= 1, "captured {} times", self.captures);
        prop_assert!(
            self.refunds <= self.captures,
            "{} refunds for {} captures",
            self.refunds,
            self.captures
        );
        Ok(())
    }

    /// The record says what the gateway did: refunded, captured, or nothing captured.
    fn check_record(&self) -> Result<(), TestCaseError> {
        let status = self.record.as_ref().map(|payment| payment.status);
        match (self.captures, self.refunds) {
            (1, 1) => prop_assert_eq!(status, Some(PaymentStatus::Refunded)),
            (1, 0) => prop_assert_eq!(status, Some(PaymentStatus::Succeeded)),
            _ => prop_assert!(
                matches!(
                    status,
                    None | Some(PaymentStatus::Pending | PaymentStatus::Failed)
                ),
                "{:?} with nothing captured",
                status
            ),
        }
        Ok(())
    }
}

proptest! {
    #[test]
    fn an_order_is_charged_at_most_once_and_refunded_at_most_once_after_its_charge(
        requests in proptest::collection::vec(request(), 0..30),
    ) {
        let mut service = PaymentService::default();
        for &request in &requests {
            match request {
                Request::Charge(answer) => service.charge(answer)?,
                Request::Refund => service.refund()?,
            }
            service.check_counts()?;
        }
        service.check_record()?;
    }
}
