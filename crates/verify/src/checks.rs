//! The invariants of DESIGN.md §6, checked on the facts read from every database. Pure: the
//! same facts always give the same violations.
//!
//! Messages take a moment to travel: a compensation, a sale or a projection lands a little
//! after the order's last event. Checks that wait for such a message judge only orders quiet
//! for at least [`Limits::settle`]; a deadline counts as missed only [`Limits::grace`] after
//! it fell due, since the timer polls.

use std::collections::{BTreeMap, BTreeSet};

use inventory_domain::ReservationStatus;
use order_domain::OrderStatus;
use payment_domain::{Payment, PaymentStatus};
use time::Duration;
use uuid::Uuid;

use crate::facts::{Facts, OrderFacts, order_subject};
use crate::report::{Kind, Violation, human};

/// How long messages are given to land.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) grace: Duration,
    pub(crate) settle: Duration,
}

/// Every check on `facts`.
pub(crate) fn all(facts: &Facts, limits: Limits) -> Vec<Violation> {
    let mut found = Vec::new();
    orders(facts, limits, &mut found);
    stock(facts, &mut found);
    payments(facts, limits, &mut found);
    reservations(facts, limits, &mut found);
    read_model(facts, limits, &mut found);
    dead_letters(facts, &mut found);
    found
}

/// The orders quiet long enough for every message they caused to have landed.
fn settled_orders(facts: &Facts, limits: Limits) -> impl Iterator<Item = (&Uuid, &OrderFacts)> {
    (facts.orders.iter()).filter(move |(_, order)| order.quiet_for >= limits.settle)
}

/// §6.1: every order ends, or is waiting for a step whose deadline has not passed.
fn orders(facts: &Facts, limits: Limits, found: &mut Vec<Violation>) {
    for (order_id, order) in &facts.orders {
        if order.status.is_terminal() {
            continue;
        }
        let detail = match facts.deadlines.get(order_id) {
            Some(deadline) if deadline.overdue_by > limits.grace => format!(
                "{} and its {} deadline passed {} ago",
                order.status,
                deadline.step.as_str(),
                human(deadline.overdue_by)
            ),
            Some(_) => continue,
            None if order.quiet_for >= limits.settle => format!(
                "{} with no pending deadline, quiet for {}",
                order.status,
                human(order.quiet_for)
            ),
            None => continue,
        };
        found.push(Violation::new(
            Kind::OrderStuck,
            order_subject(*order_id),
            detail,
        ));
    }
}

/// §6.2: nothing below zero, and every unit accounted for.
fn stock(facts: &Facts, found: &mut Vec<Violation>) {
    for level in &facts.stock {
        let subject = format!("product {}", level.sku);
        let negative: Vec<String> = [
            ("available", level.available),
            ("reserved", level.reserved),
            ("sold", level.sold),
        ]
        .into_iter()
        .filter(|(_, count)| *count < 0)
        .map(|(name, count)| format!("{name} is {count}"))
        .collect();
        if !negative.is_empty() {
            found.push(Violation::new(
                Kind::NegativeStock,
                subject.clone(),
                negative.join(", "),
            ));
        }
        let held =
            i128::from(level.available) + i128::from(level.reserved) + i128::from(level.sold);
        let received = i128::from(level.initial) + i128::from(level.restocked);
        if held != received {
            found.push(Violation::new(
                Kind::StockUnbalanced,
                subject,
                format!(
                    "available {} + reserved {} + sold {} = {held}, but initial {} + restocked {} \
                     = {received}",
                    level.available, level.reserved, level.sold, level.initial, level.restocked
                ),
            ));
        }
    }
}

fn captured(payment: &Payment) -> bool {
    matches!(
        payment.status,
        PaymentStatus::Succeeded | PaymentStatus::Refunded
    )
}

/// One order's payments beside what its stream recorded.
struct OrderPayments<'a> {
    order_id: Uuid,
    order: Option<&'a OrderFacts>,
    payments: &'a [&'a Payment],
}

impl OrderPayments<'_> {
    fn report(&self, kind: Kind, detail: String) -> Violation {
        Violation::new(kind, order_subject(self.order_id), detail)
    }

    fn status(&self) -> Option<OrderStatus> {
        self.order.map(|order| order.status)
    }

    /// Captured by the payment service, or named by the order's `order.paid`.
    fn double_charge(&self) -> Option<Violation> {
        let mut charges: BTreeSet<Uuid> = (self.payments.iter())
            .filter(|payment| captured(payment))
            .map(|payment| payment.payment_id)
            .collect();
        charges.extend(
            self.order
                .iter()
                .flat_map(|order| order.paid_with.iter().copied()),
        );
        (charges.len() > 1).then(|| {
            let ids: Vec<String> = charges.iter().map(Uuid::to_string).collect();
            let detail = format!("{} captured payments: {}", charges.len(), ids.join(", "));
            self.report(Kind::DoubleCharge, detail)
        })
    }

    fn refunds_without_cancel(&self) -> impl Iterator<Item = Violation> + '_ {
        let status = self.status();
        (self.payments.iter())
            .filter(move |payment| {
                payment.status == PaymentStatus::Refunded && status != Some(OrderStatus::Cancelled)
            })
            .map(move |payment| {
                let status =
                    status.map_or("unknown to the order service".into(), |s| s.to_string());
                let detail = format!(
                    "payment {} was refunded but the order is {status}",
                    payment.payment_id
                );
                self.report(Kind::RefundWithoutCancel, detail)
            })
    }

    fn kept_by_cancelled_order(&self, limits: Limits) -> impl Iterator<Item = Violation> + '_ {
        let settled_cancel = self.order.is_some_and(|order| {
            order.status == OrderStatus::Cancelled && order.quiet_for >= limits.settle
        });
        (self.payments.iter())
            .filter(move |payment| settled_cancel && payment.status == PaymentStatus::Succeeded)
            .map(|payment| {
                let detail = format!(
                    "cancelled, but payment {} is captured and not refunded",
                    payment.payment_id
                );
                self.report(Kind::CancelledOrderCharged, detail)
            })
    }

    fn paid_without_capture(&self) -> Option<Violation> {
        let recorded_paid = self.order.is_some_and(|order| !order.paid_with.is_empty());
        (recorded_paid && !self.payments.iter().any(|payment| captured(payment))).then(|| {
            let held = (self.payments.first()).map_or("no payment".into(), |p| {
                format!("a {} payment", p.status.as_str())
            });
            let detail = format!("recorded as paid, but the payment service holds {held}");
            self.report(Kind::PaidWithoutCapture, detail)
        })
    }
}

/// §6.3: one charge at most, kept only by an order that did not end cancelled, refunded only
/// for a cancelled one, and behind every payment an order recorded.
fn payments(facts: &Facts, limits: Limits, found: &mut Vec<Violation>) {
    let mut by_order: BTreeMap<Uuid, Vec<&Payment>> = BTreeMap::new();
    for payment in &facts.payments {
        by_order
            .entry(payment.order_id.as_uuid())
            .or_default()
            .push(payment);
    }
    let order_ids: BTreeSet<Uuid> = (by_order.keys().chain(facts.orders.keys()))
        .filter(|order_id| !facts.unreadable.contains(order_id))
        .copied()
        .collect();
    for order_id in order_ids {
        let checked = OrderPayments {
            order_id,
            order: facts.orders.get(&order_id),
            payments: by_order.get(&order_id).map_or(&[], Vec::as_slice),
        };
        found.extend(checked.double_charge());
        found.extend(checked.refunds_without_cancel());
        found.extend(checked.kept_by_cancelled_order(limits));
        found.extend(checked.paid_without_capture());
    }
}

/// §6.3: an ended order holds no stock; a completed one sold its stock, a cancelled one not.
fn reservations(facts: &Facts, limits: Limits, found: &mut Vec<Violation>) {
    for (order_id, order) in settled_orders(facts, limits) {
        let reservation = facts.reservations.get(order_id).copied();
        let detail = match (order.status, reservation) {
            (OrderStatus::Completed | OrderStatus::Cancelled, Some(ReservationStatus::Held)) => {
                found.push(Violation::new(
                    Kind::StockHeldForEndedOrder,
                    order_subject(*order_id),
                    format!("{}, but its stock is still reserved", order.status),
                ));
                continue;
            }
            (OrderStatus::Completed, Some(ReservationStatus::Released)) => {
                "completed, but its stock was released instead of sold"
            }
            (OrderStatus::Completed, None) => "completed without a stock reservation",
            (OrderStatus::Cancelled, Some(ReservationStatus::Committed)) => {
                "cancelled, but its stock was sold"
            }
            _ => continue,
        };
        found.push(Violation::new(
            Kind::ReservationContradictsOrder,
            order_subject(*order_id),
            detail,
        ));
    }
}

/// §6.4: every settled order is in the read model with its status. (Views that are not the
/// fold of their kept events were found while reading them.)
fn read_model(facts: &Facts, limits: Limits, found: &mut Vec<Violation>) {
    for (order_id, order) in settled_orders(facts, limits) {
        let status = order.status.as_str();
        let (kind, detail) = match facts.views.get(order_id) {
            None | Some(None) => (
                Kind::OrderMissingFromReadModel,
                format!("{status} in the event store, but the read model has no view of it"),
            ),
            Some(Some(view)) if view != status => (
                Kind::ReadModelBehind,
                format!("{status} in the event store, but {view} in the read model"),
            ),
            Some(Some(_)) => continue,
        };
        found.push(Violation::new(kind, order_subject(*order_id), detail));
    }
}

/// §6.5: poison ends in a dead-letter queue, where an operator must look at it.
fn dead_letters(facts: &Facts, found: &mut Vec<Violation>) {
    for parked in facts.dead_letters.iter().flatten() {
        found.push(Violation::new(
            Kind::DeadLetter,
            format!("dead letter {}", parked.id),
            format!(
                "{} for order {} parked after {} attempts: {}",
                parked.envelope.message_type,
                parked.envelope.correlation_id,
                parked.attempts,
                parked.error
            ),
        ));
    }
}
