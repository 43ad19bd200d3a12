//! Payment rules, pure: at most one successful charge per order, and a refund only for a
//! captured payment, at most once.

use contracts::value::{Money, OrderId};
use uuid::Uuid;

/// Where an order's payment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentStatus {
    /// Recorded before the gateway is called, so a crash mid-call is retried with the same key.
    Pending,
    Succeeded,
    Failed,
    Refunded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Pending => "pending",
            PaymentStatus::Succeeded => "succeeded",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Refunded => "refunded",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed, Self::Refunded]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// An order's payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payment {
    pub payment_id: Uuid,
    pub order_id: OrderId,
    pub amount: Money,
    pub status: PaymentStatus,
    pub failure_reason: Option<String>,
}

/// What to do with a request to charge an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnCharge {
    /// Call the gateway (again, with the same idempotency key, if a call was cut short).
    CallGateway,
    /// Already charged: answer success again, charge nothing.
    AlreadySucceeded,
    /// Already declined: answer the same failure again.
    AlreadyFailed(String),
}

/// What to do with a request to refund an order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OnRefund {
    CallGateway,
    AlreadyRefunded,
    /// Nothing was captured: there is nothing to give back.
    NothingCaptured,
}

impl Payment {
    pub fn on_charge(existing: Option<&Payment>) -> OnCharge {
        match existing.map(|p| (p.status, p.failure_reason.clone())) {
            None | Some((PaymentStatus::Pending, _)) => OnCharge::CallGateway,
            Some((PaymentStatus::Succeeded | PaymentStatus::Refunded, _)) => {
                OnCharge::AlreadySucceeded
            }
            Some((PaymentStatus::Failed, reason)) => {
                OnCharge::AlreadyFailed(reason.unwrap_or_default())
            }
        }
    }

    pub fn on_refund(existing: Option<&Payment>) -> OnRefund {
        match existing.map(|p| p.status) {
            Some(PaymentStatus::Succeeded) => OnRefund::CallGateway,
            Some(PaymentStatus::Refunded) => OnRefund::AlreadyRefunded,
            Some(PaymentStatus::Pending | PaymentStatus::Failed) | None => {
                OnRefund::NothingCaptured
            }
        }
    }
}

#[cfg(test)]
mod payment_properties;
#[cfg(test)]
mod payment_tests;
