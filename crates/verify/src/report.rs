//! What a verification found: how much it checked, each violation on one line, and what it
//! could not check. Shown to a person as text, or to a machine as JSON.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

/// A kind of violation: which invariant of DESIGN.md §6 it breaks, and how.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// §6.1: an order is not terminal and its step's deadline passed (by more than the grace),
    /// or it has no deadline at all.
    OrderStuck,
    /// An order's stream cannot be folded: an event the code cannot decode, or no
    /// `order.placed`. Its other checks are skipped.
    OrderUnreadable,
    /// §6.2: a stock counter below zero.
    NegativeStock,
    /// §6.2: `available + reserved + sold != initial + restocked`.
    StockUnbalanced,
    /// §6.3: more than one captured payment for one order.
    DoubleCharge,
    /// §6.3: a cancelled order whose captured payment was not refunded.
    CancelledOrderCharged,
    /// §6.3: an order that recorded a payment the payment service did not capture.
    PaidWithoutCapture,
    /// §6.3: a refund for an order that was not cancelled (refunds are compensations only).
    RefundWithoutCancel,
    /// §6.3: stock still held for an order that ended.
    StockHeldForEndedOrder,
    /// §6.3: a reservation that contradicts its order's end: a completed order's stock not
    /// sold, or a cancelled order's stock sold.
    ReservationContradictsOrder,
    /// §6.4: a saved view that is not the fold of the events kept for it.
    ViewDiffersFromFold,
    /// §6.4: an order of the event store that the read model does not have.
    OrderMissingFromReadModel,
    /// §6.4: a view whose status is not its order's.
    ReadModelBehind,
    /// §6.5: a parked message; it ended where poison must, but an operator must look at it.
    DeadLetter,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::OrderStuck => "order_stuck",
            Kind::OrderUnreadable => "order_unreadable",
            Kind::NegativeStock => "negative_stock",
            Kind::StockUnbalanced => "stock_unbalanced",
            Kind::DoubleCharge => "double_charge",
            Kind::CancelledOrderCharged => "cancelled_order_charged",
            Kind::PaidWithoutCapture => "paid_without_capture",
            Kind::RefundWithoutCancel => "refund_without_cancel",
            Kind::StockHeldForEndedOrder => "stock_held_for_ended_order",
            Kind::ReservationContradictsOrder => "reservation_contradicts_order",
            Kind::ViewDiffersFromFold => "view_differs_from_fold",
            Kind::OrderMissingFromReadModel => "order_missing_from_read_model",
            Kind::ReadModelBehind => "read_model_behind",
            Kind::DeadLetter => "dead_letter",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One broken invariant, about one thing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub kind: Kind,
    /// What it is about: `order <id>`, `product <sku>`, `dead letter <id>`.
    pub subject: String,
    /// What is wrong, in words a person can read.
    pub detail: String,
}

impl Violation {
    pub(crate) fn new(kind: Kind, subject: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind,
            subject: subject.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.kind, self.subject, self.detail)
    }
}

/// How much was checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Checked {
    /// Orders in the event store.
    pub orders: usize,
    /// Of those, not yet completed or cancelled.
    pub orders_in_progress: usize,
    pub products: usize,
    pub reservations: usize,
    pub payments: usize,
    /// Orders the read model knows.
    pub views: usize,
    /// Parked messages, when the dead letters could be listed.
    pub dead_letters: Option<usize>,
}

/// The outcome of a verification.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub checked: Checked,
    /// Sorted by kind, then subject.
    pub violations: Vec<Violation>,
    /// What was not checked, and why.
    pub not_checked: Vec<String>,
}

impl Report {
    /// Whether no invariant is broken.
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    /// The kinds of violation found.
    pub fn kinds(&self) -> BTreeSet<Kind> {
        self.violations.iter().map(|v| v.kind).collect()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.checked;
        write!(
            f,
            "Checked {} orders ({} in progress), {} products, {} reservations, {} payments, \
             {} orders in the read model",
            c.orders, c.orders_in_progress, c.products, c.reservations, c.payments, c.views
        )?;
        match c.dead_letters {
            Some(count) => writeln!(f, ", {count} dead letters.")?,
            None => writeln!(f, ".")?,
        }
        for reason in &self.not_checked {
            writeln!(f, "Not checked: {reason}.")?;
        }
        match self.violations.len() {
            0 => writeln!(f, "No violations."),
            count => {
                let plural = if count == 1 { "" } else { "s" };
                writeln!(f, "{count} violation{plural}:")?;
                for violation in &self.violations {
                    writeln!(f, "  {violation}")?;
                }
                Ok(())
            }
        }
    }
}

/// A span of time for a person: `850ms`, `42s`, `3m12s`, `2h05m`.
pub(crate) fn human(duration: time::Duration) -> String {
    let millis = duration.whole_milliseconds().max(0);
    let seconds = millis / 1000;
    match seconds {
        0 => format!("{millis}ms"),
        1..60 => format!("{seconds}s"),
        60..3600 => format!("{}m{:02}s", seconds / 60, seconds % 60),
        _ => format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(violations: Vec<Violation>) -> Report {
        Report {
            checked: Checked {
                orders: 4,
                orders_in_progress: 1,
                products: 3,
                reservations: 3,
                payments: 2,
                views: 4,
                dead_letters: None,
            },
            violations,
            not_checked: vec!["dead letters (no AMQP_URL given)".into()],
        }
    }

    #[test]
    fn a_clean_report_says_what_it_checked_and_what_it_could_not() {
        assert_eq!(
            report(vec![]).to_string(),
            "Checked 4 orders (1 in progress), 3 products, 3 reservations, 2 payments, 4 orders \
             in the read model.\nNot checked: dead letters (no AMQP_URL given).\nNo violations.\n"
        );
        assert!(report(vec![]).is_clean());
    }

    #[test]
    fn each_violation_takes_one_line_with_its_kind_and_subject() {
        let found = report(vec![
            Violation::new(Kind::NegativeStock, "product p-1", "available is -3"),
            Violation::new(Kind::OrderStuck, "order 42", "PENDING with no deadline"),
        ]);
        let text = found.to_string();
        assert!(text.ends_with(
            "2 violations:\n  negative_stock: product p-1: available is -3\n  \
             order_stuck: order 42: PENDING with no deadline\n"
        ));
        assert_eq!(
            found.kinds().into_iter().collect::<Vec<_>>(),
            [Kind::OrderStuck, Kind::NegativeStock]
        );
        let json = serde_json::to_value(&found).expect("json");
        assert_eq!(json["violations"][0]["kind"], "negative_stock");
        assert_eq!(json["checked"]["dead_letters"], serde_json::Value::Null);
    }

    #[test]
    fn spans_of_time_read_at_a_glance() {
        let at = time::Duration::milliseconds;
        assert_eq!(human(at(850)), "850ms");
        assert_eq!(human(at(42_400)), "42s");
        assert_eq!(human(at(192_000)), "3m12s");
        assert_eq!(human(at(7_500_000)), "2h05m");
        assert_eq!(human(at(-5)), "0ms");
    }
}
