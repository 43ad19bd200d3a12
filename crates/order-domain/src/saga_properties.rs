//! Properties of the saga: whatever answers reach a placed order — twice, out of order, after
//! its deadline, or mixed with the customer's cancels — the order only moves forward along its
//! lifecycle, is charged at most once, and gives back whatever it held when it is cancelled.

use proptest::prelude::*;
use uuid::Uuid;

use crate::OrderStatus::{Cancelled, Completed, InventoryReserved, Paid, Pending};
use crate::fixtures::{TOTAL_MINOR, at, place_order};
use crate::saga::{Deadline, SagaCommand, SagaDecision, SagaInput, SagaStep, react, start};
use crate::{Order, OrderEvent, OrderStatus, evolve};

fn saga_input() -> impl Strategy<Value = SagaInput> {
    let step = prop_oneof![Just(SagaStep::AwaitingStock), Just(SagaStep::AwaitingPayment)];
    prop_oneof![
        3 => Just(SagaInput::StockReserved),
        1 => (1..=1000_u32, 0..1000_u32).prop_map(|(requested, available)| {
            SagaInput::StockInsufficient { product_id: "product-001".to_owned(), requested, available }
        }),
        3 => any::<u128>().prop_map(|id| SagaInput::PaymentSucceeded {
            payment_id: Uuid::from_u128(id),
            amount_minor: TOTAL_MINOR,
        }),
        1 => "[a-z ]{0,16}".prop_map(|reason| SagaInput::PaymentFailed { reason }),
        2 => step.prop_map(SagaInput::DeadlineExpired),
        1 => Just(SagaInput::CancelRequested),
    ]
}

/// The lifecycle's edges: forward one step, or from any non-terminal status to cancelled.
fn is_legal_edge(from: OrderStatus, to: OrderStatus) -> bool {
    matches!(
        (from, to),
        (Pending, InventoryReserved) | (InventoryReserved, Paid) | (Paid, Completed)
    ) || (!from.is_terminal() && to == Cancelled)
}

/// The only inputs the saga may reject: anything else arriving twice or late must be absorbed,
/// or a redelivered message would be retried and dead-lettered for nothing.
fn may_be_rejected(input: &SagaInput, status: OrderStatus) -> bool {
    matches!(
        (input, status),
        (SagaInput::PaymentSucceeded { .. }, Pending) | (SagaInput::CancelRequested, Completed)
    )
}

/// The deadline an order in `status` must be under: one while it waits, none once it ended.
fn deadline_for(status: OrderStatus) -> Option<SagaStep> {
    match status {
        Pending => Some(SagaStep::AwaitingStock),
        InventoryReserved => Some(SagaStep::AwaitingPayment),
        Paid | Completed | Cancelled => None,
    }
}

fn count(decision: &SagaDecision, wanted: fn(&SagaCommand) -> bool) -> usize {
    decision.commands.iter().filter(|command| wanted(command)).count()
}

fn is_release(command: &SagaCommand) -> bool {
    matches!(command, SagaCommand::ReleaseStock(_))
}

fn is_refund(command: &SagaCommand) -> bool {
    matches!(command, SagaCommand::RefundPayment(_))
}

fn is_charge(command: &SagaCommand) -> bool {
    matches!(command, SagaCommand::ChargePayment(_))
}

/// What the run observed, for the properties that span the whole run.
#[derive(Default)]
struct Tally {
    paid_events: usize,
    charges: usize,
    /// Index of the last input after which inventory held stock for the order.
    last_stock_reserved: Option<usize>,
    last_release: Option<usize>,
    releases: usize,
    late_payments: usize,
    refunds: usize,
}

proptest! {
    #[test]
    fn whatever_arrives_the_order_follows_its_lifecycle_and_gives_back_what_it_held(
        inputs in proptest::collection::vec(saga_input(), 0..40),
    ) {
        let started = start(place_order()).expect("the order is placed");
        let mut order: Order =
            started.events.iter().fold(None, evolve).expect("the start places the order");
        let mut deadline = match started.deadline {
            Deadline::Set(step) => Some(step),
            Deadline::Keep | Deadline::Clear => None,
        };
        let mut path = vec![order.status];
        let mut tally = Tally::default();

        for (index, input) in inputs.into_iter().enumerate() {
            let before = order.clone();
            let minutes = i64::try_from(index).expect("few inputs") + 1;
            let decision = match react(&before, input.clone(), at(minutes)) {
                Ok(decision) => decision,
                Err(error) => {
                    prop_assert!(
                        may_be_rejected(&input, before.status),
                        "{input:?} rejected in {}: {error}", before.status
                    );
                    continue;
                }
            };

            // (a) A terminal order never changes again.
            if before.status.is_terminal() {
                prop_assert!(decision.events.is_empty(), "{} emitted {:?}", before.status, decision.events);
            }

            // (b) Each event follows a legal edge, and no status is reached twice.
            for event in &decision.events {
                let from = order.status;
                order = evolve(Some(order), event).expect("a placed order stays placed");
                prop_assert!(is_legal_edge(from, order.status), "{from} -> {} by {input:?}", order.status);
                prop_assert!(!path.contains(&order.status), "{} reached twice: {path:?}", order.status);
                path.push(order.status);
                if matches!(event, OrderEvent::Paid(_)) {
                    tally.paid_events += 1;
                }
            }
            // (c) One payment at most, and one charge request at most.
            prop_assert!(tally.paid_events <= 1, "paid {} times", tally.paid_events);
            tally.charges += count(&decision, is_charge);
            prop_assert!(tally.charges <= 1, "charged {} times", tally.charges);

            // (d) The cancel itself releases exactly what the order held, and refunds what it was
            // paid; outside a cancel only a late answer to a cancelled order is compensated.
            let releases = count(&decision, is_release);
            let refunds = count(&decision, is_refund);
            let cancel_event = decision.events.iter().find_map(|event| match event {
                OrderEvent::Cancelled(cancelled) => Some(cancelled),
                _ => None,
            });
            if let Some(cancelled) = cancel_event {
                prop_assert_eq!(releases, usize::from(before.holds_stock()));
                prop_assert_eq!(refunds, usize::from(before.status == Paid));
                prop_assert_eq!(cancelled.compensations.len(), releases + refunds);
            } else {
                let late_reservation =
                    before.status == Cancelled && input == SagaInput::StockReserved;
                let late_payment = before.status == Cancelled
                    && matches!(input, SagaInput::PaymentSucceeded { .. });
                prop_assert_eq!(releases, usize::from(late_reservation), "{:?} in {}", input, before.status);
                prop_assert_eq!(refunds, usize::from(late_payment), "{:?} in {}", input, before.status);
                tally.late_payments += usize::from(late_payment);
            }
            if releases + refunds > 0 {
                prop_assert_eq!(order.status, Cancelled, "compensated an order that goes on");
            }
            if input == SagaInput::StockReserved {
                tally.last_stock_reserved = Some(index);
            }
            if releases > 0 {
                tally.last_release = Some(index);
            }
            tally.releases += releases;
            tally.refunds += refunds;

            // The order is under exactly the deadline of the step it waits in.
            match decision.deadline {
                Deadline::Keep => {}
                Deadline::Set(step) => deadline = Some(step),
                Deadline::Clear => deadline = None,
            }
            prop_assert_eq!(deadline, deadline_for(order.status), "after {:?}: {:?}", input, path);
        }

        match order.status {
            // Whatever inventory reserved for a cancelled order was released after it.
            Cancelled => {
                prop_assert!(
                    tally.last_release >= tally.last_stock_reserved,
                    "stock reserved at {:?} but last released at {:?}",
                    tally.last_stock_reserved, tally.last_release
                );
                prop_assert_eq!(tally.refunds, tally.late_payments, "every late charge is refunded");
            }
            // Stock that is sold or still held for a live order is never released.
            Pending | InventoryReserved | Paid | Completed => {
                prop_assert_eq!(tally.releases, 0);
                prop_assert_eq!(tally.refunds, 0);
            }
        }
    }
}
