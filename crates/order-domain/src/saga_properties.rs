//! Properties of the saga: whatever answers reach a placed order — twice, out of order, after
//! its deadline, or mixed with the customer's cancels — the order only moves forward along its
//! lifecycle, is charged at most once, and gives back whatever it held when it is cancelled.

use proptest::prelude::*;
use uuid::Uuid;

use crate::OrderStatus::{Cancelled, Completed, InventoryReserved, Paid, Pending};
use crate::fixtures::{TOTAL_MINOR, at, place_order, sku};
use crate::saga::{Deadline, SagaCommand, SagaDecision, SagaInput, SagaStep, react, start};
use crate::{Order, OrderEvent, OrderStatus, evolve};

fn saga_input() -> impl Strategy<Value = SagaInput> {
    let step = prop_oneof![
        Just(SagaStep::AwaitingStock),
        Just(SagaStep::AwaitingPayment)
    ];
    prop_oneof![
        3 => Just(SagaInput::StockReserved),
        1 => (1..=1000_u32, 0..1000_u32).prop_map(|(requested, available)| {
            let product_id = sku("product-001");
            SagaInput::StockInsufficient { product_id, requested, available }
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
    decision
        .commands
        .iter()
        .filter(|command| wanted(command))
        .count()
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

/// A placed order driven by `react` and `evolve`, and what the run has observed so far.
struct SagaRun {
    order: Order,
    /// The order's one deadline, as the decisions left it.
    deadline: Option<SagaStep>,
    /// Every status the order has been in, in order.
    path: Vec<OrderStatus>,
    paid_events: usize,
    charges: usize,
    /// The last input after which inventory held stock for the order.
    last_stock_reserved: Option<usize>,
    last_release: Option<usize>,
    releases: usize,
    late_payments: usize,
    refunds: usize,
}

impl SagaRun {
    fn start() -> Self {
        let started = start(place_order()).expect("the order is placed");
        let order = started
            .events
            .iter()
            .fold(None, evolve)
            .expect("the start places the order");
        let deadline = match started.deadline {
            Deadline::Set(step) => Some(step),
            Deadline::Keep | Deadline::Clear => None,
        };
        Self {
            path: vec![order.status],
            order,
            deadline,
            paid_events: 0,
            charges: 0,
            last_stock_reserved: None,
            last_release: None,
            releases: 0,
            late_payments: 0,
            refunds: 0,
        }
    }

    /// Delivers the `index`-th input and checks what the saga decided.
    fn deliver(&mut self, index: usize, input: &SagaInput) -> Result<(), TestCaseError> {
        let before = self.order.clone();
        let minutes = i64::try_from(index).expect("a run has few inputs") + 1;
        let decision = match react(&before, input.clone(), at(minutes)) {
            Ok(decision) => decision,
            Err(error) => {
                prop_assert!(
                    may_be_rejected(input, before.status),
                    "{input:?} rejected in {}: {error}",
                    before.status
                );
                return Ok(());
            }
        };
        self.apply_events(&before, input, &decision)?;
        self.count_compensations(&before, input, &decision)?;
        if *input == SagaInput::StockReserved {
            self.last_stock_reserved = Some(index);
        }
        if count(&decision, is_release) > 0 {
            self.last_release = Some(index);
        }

        // The order is under exactly the deadline of the step it waits in. A deadline that fired
        // is cleared only if it is still the order's (as the order service's `clear_deadline`
        // does with `only`): a stale timer must not remove the deadline of a later step.
        let fired = match input {
            SagaInput::DeadlineExpired(step) => Some(*step),
            _ => None,
        };
        match decision.deadline {
            Deadline::Keep => {}
            Deadline::Set(step) => self.deadline = Some(step),
            Deadline::Clear if fired.is_none_or(|step| self.deadline == Some(step)) => {
                self.deadline = None;
            }
            Deadline::Clear => {}
        }
        prop_assert_eq!(
            self.deadline,
            deadline_for(self.order.status),
            "after {:?}: {:?}",
            input,
            self.path
        );
        Ok(())
    }

    fn apply_events(
        &mut self,
        before: &Order,
        input: &SagaInput,
        decision: &SagaDecision,
    ) -> Result<(), TestCaseError> {
        // (a) A terminal order never changes again.
        if before.status.is_terminal() {
            prop_assert!(
                decision.events.is_empty(),
                "{} emitted {:?}",
                before.status,
                decision.events
            );
        }
        // (b) Each event follows a legal edge, and no status is reached twice.
        for event in &decision.events {
            let from = self.order.status;
            self.order =
                evolve(Some(self.order.clone()), event).expect("a placed order stays placed");
            let to = self.order.status;
            prop_assert!(is_legal_edge(from, to), "{from} -> {to} by {input:?}");
            prop_assert!(
                !self.path.contains(&to),
                "{to} reached twice: {:?}",
                self.path
            );
            self.path.push(to);
            if matches!(event, OrderEvent::Paid(_)) {
                self.paid_events += 1;
            }
        }
        // (c) One payment at most, and one charge request at most.
        prop_assert!(self.paid_events <= 1, "paid {} times", self.paid_events);
        self.charges += count(decision, is_charge);
        prop_assert!(self.charges <= 1, "charged {} times", self.charges);
        Ok(())
    }

    /// (d) A cancel itself releases exactly what the order held and refunds what it was paid;
    /// outside a cancel, only a late answer to a cancelled order is compensated.
    fn count_compensations(
        &mut self,
        before: &Order,
        input: &SagaInput,
        decision: &SagaDecision,
    ) -> Result<(), TestCaseError> {
        let releases = count(decision, is_release);
        let refunds = count(decision, is_refund);
        let cancel_event = decision.events.iter().find_map(|event| match event {
            OrderEvent::Cancelled(cancelled) => Some(cancelled),
            _ => None,
        });
        if let Some(cancelled) = cancel_event {
            prop_assert_eq!(releases, usize::from(before.holds_stock()));
            prop_assert_eq!(refunds, usize::from(before.status == Paid));
            prop_assert_eq!(cancelled.compensations.len(), releases + refunds);
        } else {
            let late = before.status == Cancelled;
            let late_reservation = late && *input == SagaInput::StockReserved;
            let late_payment = late && matches!(input, SagaInput::PaymentSucceeded { .. });
            prop_assert_eq!(
                releases,
                usize::from(late_reservation),
                "{:?} in {}",
                input,
                before.status
            );
            prop_assert_eq!(
                refunds,
                usize::from(late_payment),
                "{:?} in {}",
                input,
                before.status
            );
            self.late_payments += usize::from(late_payment);
        }
        if releases + refunds > 0 {
            prop_assert_eq!(
                self.order.status,
                Cancelled,
                "compensated an order that goes on"
            );
        }
        self.releases += releases;
        self.refunds += refunds;
        Ok(())
    }

    /// Once the answers stop: nothing held for a cancelled order, nothing given back otherwise.
    fn finish(&self) -> Result<(), TestCaseError> {
        if self.order.status == Cancelled {
            prop_assert!(
                self.last_release >= self.last_stock_reserved,
                "stock reserved at input {:?} but last released at {:?}",
                self.last_stock_reserved,
                self.last_release
            );
            prop_assert_eq!(
                self.refunds,
                self.late_payments,
                "every late charge is refunded"
            );
        } else {
            // Stock that is sold, or still held for a live order, is never released.
            prop_assert_eq!((self.releases, self.refunds), (0, 0), "{:?}", self.path);
        }
        Ok(())
    }
}

proptest! {
    #[test]
    fn whatever_arrives_the_order_follows_its_lifecycle_and_gives_back_what_it_held(
        inputs in proptest::collection::vec(saga_input(), 0..40),
    ) {
        let mut run = SagaRun::start();
        for (index, input) in inputs.iter().enumerate() {
            run.deliver(index, input)?;
        }
        run.finish()?;
    }
}
