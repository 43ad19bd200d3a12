//! The end state of a run, as far as it must not depend on delivery: each order's outcome (by
//! its place in the plan, since ids differ between runs), its payment, its notifications, its
//! saga steps; every product's stock; the dead letters. Checked within the run first (the
//! read model against each order's own event log, one notification per order, each order as
//! its kind means it to end), then against the other run.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::{StreamExt as _, stream};
use query_domain::{OrderView, project};
use serde_json::Value;

use crate::api::Api;
use crate::workload::{Kind, PAYMENT_DEADLINE, Planned, Seed, place_all, wait_until_settled};

/// A payment as the payment service keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PaymentRecord {
    pub(crate) status: String,
    pub(crate) amount_minor: i64,
}

/// A running system: its API, and what only its own storage and broker can tell.
#[async_trait]
pub(crate) trait SystemUnderTest: Sync {
    fn api(&self) -> &Api;

    /// Every payment, by order id.
    async fn payments(&self) -> HashMap<String, PaymentRecord>;

    /// Messages queued, leased, waiting for a retry or for their relay, anywhere.
    async fn messages_in_flight(&self) -> u64;

    /// Emails handed to the mail sender so far (the mailbox records each once; this counts
    /// every send).
    async fn emails_sent(&self) -> u64;

    /// What the system's own records tell of emails sent more than once: for a failure message
    /// (empty when it keeps no such record).
    async fn emails_sent_twice(&self) -> String {
        String::new()
    }
}

/// How one order ended, without what differs between runs by nature (ids and times).
#[derive(Clone, Debug, PartialEq, Eq)]
struct OrderEnd {
    status: String,
    reason: Option<String>,
    customer_email: String,
    /// `(product, quantity, unit price, line total)`.
    items: Vec<(String, u32, String, String)>,
    total: String,
    currency: String,
    /// The saga's steps, from the read model; empty for a customer cancel, whose steps depend
    /// on whether the cancel came before the stock reservation (checked within the run).
    steps: Vec<String>,
    /// Likewise `None` for a customer cancel.
    payment: Option<PaymentRecord>,
    /// `(recipient, subject, body)`, the order id replaced by `<order>`.
    notifications: Vec<(String, String, String)>,
}

/// The end state of one run.
pub(crate) struct EndState {
    orders: Vec<OrderEnd>,
    stock: Value,
    /// What is wrong within this run alone.
    problems: Vec<String>,
    /// From stock reserved to paid, the longest a completed order took: how close the run came
    /// to the payment deadline, which the workload's outcomes rely on not reaching.
    slowest_payment: Duration,
}

/// Runs `plan` on `system`, waits until everything settled, and reads the end state.
pub(crate) async fn run(
    system: &dyn SystemUnderTest,
    plan: &[Planned],
    parallel: usize,
    seed: Seed,
) -> EndState {
    let api = system.api();
    let emails_before = system.emails_sent().await;
    let ids = place_all(api, plan, parallel).await;
    wait_until_settled(api, &ids, || system.messages_in_flight(), seed).await;
    let emails = system.emails_sent().await - emails_before;
    let read_model: HashMap<String, OrderView> = api
        .read_model()
        .await
        .into_iter()
        .map(|view| (view.order_id.to_string(), view))
        .collect();
    let payments = system.payments().await;
    let mut state = EndState {
        orders: Vec::with_capacity(plan.len()),
        stock: api.admin("/api/v1/admin/stock").await,
        problems: Vec::new(),
        slowest_payment: Duration::ZERO,
    };
    let dead_letters = api.admin("/api/v1/admin/dead-letters").await;
    if dead_letters != Value::Array(vec![]) {
        state.problems.push(format!("dead letters: {dead_letters}"));
    }
    state.check_stock();
    if payments.len() > ids.len() {
        state
            .problems
            .push("payments for orders never placed".into());
    }
    let looked_up: Vec<_> = stream::iter(ids.iter())
        .map(|id| look_up(api, id))
        .buffered(8)
        .collect()
        .await;
    if emails != plan.len() as u64 {
        // Which orders the mailbox records more or fewer than one email for: a sender that sent
        // one message's email twice records it once, a message sent twice twice.
        let recorded: Vec<String> = looked_up
            .iter()
            .filter_map(|(id, _, _, sent)| {
                let count = sent.as_array().map_or(0, Vec::len);
                (count != 1).then(|| format!("{id}: {count} recorded"))
            })
            .collect();
        let orders = plan.len();
        let twice = system.emails_sent_twice().await;
        state.problems.push(format!(
            "{emails} emails sent for {orders} orders; orders not recorded as emailed once: {recorded:?}{twice}"
        ));
    }
    for (index, (planned, (id, events, view, sent))) in plan.iter().zip(looked_up).enumerate() {
        let label = format!("order #{index} ({:?}, {id})", planned.kind);
        let listed = read_model.get(&id).unwrap_or_else(|| {
            state
                .problems
                .push(format!("{label} is missing from the read model"));
            &view
        });
        match project(&events) {
            Ok(Some(folded)) if folded == *listed => {}
            folded => state.problems.push(format!(
                "{label}: the read model has {listed:?}, its event log folds to {folded:?}"
            )),
        }
        if view != *listed {
            state.problems.push(format!(
                "{label}: reading it gives {view:?}, the read model lists {listed:?}"
            ));
        }
        state.slowest_payment = state.slowest_payment.max(payment_time(listed));
        let end = order_end(&id, listed, payments.get(&id).cloned(), &sent);
        state.check_order(&label, planned.kind, &end);
        state.orders.push(comparable(planned.kind, end));
    }
    state
}

/// How long the order waited for its payment, if it was paid.
fn payment_time(view: &OrderView) -> Duration {
    let at = |step: &str| {
        let entry = view.history.iter().find(|entry| entry.step == step);
        entry.map(|entry| entry.at)
    };
    match (at("order.inventory_reserved"), at("order.paid")) {
        (Some(reserved), Some(paid)) => (paid - reserved).unsigned_abs(),
        _ => Duration::ZERO,
    }
}

/// An order's event log, its view as read, and the notifications sent about it.
async fn look_up(api: &Api, id: &String) -> (String, Vec<contracts::Envelope>, OrderView, Value) {
    let sent = api
        .admin(&format!("/api/v1/admin/notifications?order_id={id}"))
        .await;
    (id.clone(), api.events(id).await, api.order(id).await, sent)
}

fn order_end(id: &str, view: &OrderView, payment: Option<PaymentRecord>, sent: &Value) -> OrderEnd {
    let without_id = |text: &Value| text.as_str().unwrap_or_default().replace(id, "<order>");
    OrderEnd {
        status: view.status.clone(),
        reason: view.cancellation_reason.clone(),
        customer_email: view.customer_email.clone(),
        items: view
            .items
            .iter()
            .map(|item| {
                let (unit, line) = (item.unit_price.clone(), item.line_total.clone());
                (item.product_id.clone(), item.quantity, unit, line)
            })
            .collect(),
        total: view.total.clone(),
        currency: view.currency.clone(),
        steps: view
            .history
            .iter()
            .map(|entry| entry.step.clone())
            .collect(),
        payment,
        notifications: sent
            .as_array()
            .into_iter()
            .flatten()
            .map(|n| {
                (
                    without_id(&n["recipient"]),
                    without_id(&n["subject"]),
                    without_id(&n["body"]),
                )
            })
            .collect(),
    }
}

/// Drops what a customer cancel may legitimately vary in (checked by `check_order`).
fn comparable(kind: Kind, end: OrderEnd) -> OrderEnd {
    if kind == Kind::CustomerCancels {
        OrderEnd {
            steps: Vec::new(),
            payment: None,
            ..end
        }
    } else {
        end
    }
}

impl EndState {
    fn check_stock(&mut self) {
        for level in self.stock.as_array().into_iter().flatten() {
            let n = |field: &str| level[field].as_i64().unwrap_or(-1);
            let conserved =
                n("available") + n("reserved") + n("sold") == n("initial") + n("restocked");
            if n("available") < 0 || n("reserved") != 0 || !conserved {
                self.problems
                    .push(format!("stock not settled or not conserved: {level}"));
            }
        }
    }

    /// Whether the order ended as its kind means it to, with the payment that goes with it.
    fn check_order(&mut self, label: &str, kind: Kind, end: &OrderEnd) {
        let refunded = Some(PaymentRecord {
            status: "refunded".into(),
            amount_minor: minor(&end.total),
        });
        let reserved = end
            .steps
            .iter()
            .any(|step| step == "order.inventory_reserved");
        let (status, reason, payment) = match kind {
            Kind::Completes => ("COMPLETED", None, Some("succeeded")),
            Kind::Declined => (
                "CANCELLED",
                Some("payment failed: card declined"),
                Some("failed"),
            ),
            Kind::OutOfStock => ("CANCELLED", None, None),
            Kind::PaymentTimesOut => (
                "CANCELLED",
                Some("timed out waiting for the payment"),
                Some("refunded"),
            ),
            Kind::CustomerCancels => ("CANCELLED", Some("cancelled by the customer"), None),
        };
        let expected_payment = match (kind, payment) {
            // The charge goes out only once the stock is reserved; cancelled before, nothing.
            (Kind::CustomerCancels, _) if reserved => refunded,
            (_, Some(status)) => Some(PaymentRecord {
                status: status.into(),
                amount_minor: minor(&end.total),
            }),
            (_, None) => None,
        };
        let reason_ok = match (kind, &end.reason) {
            (Kind::OutOfStock, Some(reason)) => {
                reason.starts_with("insufficient stock for product-001: requested")
                    && reason.ends_with("available 100")
            }
            (_, actual) => actual.as_deref() == reason,
        };
        if end.status != status || !reason_ok || end.payment != expected_payment {
            self.problems.push(format!("{label} ended as {end:?}"));
        }
        if end.notifications.len() != 1 {
            self.problems.push(format!(
                "{label}: {} notifications sent, not one",
                end.notifications.len()
            ));
        }
    }
}

/// `"12.34"` in minor units.
fn minor(decimal: &str) -> i64 {
    decimal.replace('.', "").parse().unwrap_or(-1)
}

/// Asserts that both runs are sound on their own and ended the same.
pub(crate) fn assert_equivalent(seed: Seed, plan: &[Planned], clean: &EndState, faulty: &EndState) {
    let mut report: Vec<String> = clean
        .problems
        .iter()
        .map(|problem| format!("clean run: {problem}"))
        .chain(
            faulty
                .problems
                .iter()
                .map(|problem| format!("hostile run: {problem}")),
        )
        .collect();
    for (index, (clean_end, faulty_end)) in clean.orders.iter().zip(&faulty.orders).enumerate() {
        if clean_end != faulty_end {
            report.push(format!(
                "order #{index} ({:?}): clean {clean_end:?}\n  hostile {faulty_end:?}",
                plan[index].kind
            ));
        }
    }
    if clean.orders.len() != faulty.orders.len() {
        report.push("the runs read different numbers of orders".into());
    }
    if clean.stock != faulty.stock {
        report.push(format!(
            "stock: clean {}\n  hostile {}",
            clean.stock, faulty.stock
        ));
    }
    println!(
        "slowest payment: {:?} clean, {:?} hostile; the deadline is {PAYMENT_DEADLINE:?}",
        clean.slowest_payment, faulty.slowest_payment
    );
    assert!(
        report.is_empty(),
        "{} differences or problems ({seed}; {}):\n{}",
        report.len(),
        if clean.problems.is_empty() {
            "the clean run went as planned"
        } else {
            "the clean run itself did not go as planned: if orders timed out, the machine was \
             too busy for the workload's timing, which says nothing about delivery"
        },
        report
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Asserts that the hostile run really was hostile: every kind of fault was injected.
pub(crate) fn assert_faults_were_injected(seed: Seed, injected: &HashMap<String, u64>) {
    println!("faults injected: {injected:?}");
    for fault in ["duplicate", "republish", "reorder", "delay", "drop_ack"] {
        assert!(
            injected.get(fault).is_some_and(|count| *count > 0),
            "no {fault} was injected: {injected:?} ({seed})"
        );
    }
}
