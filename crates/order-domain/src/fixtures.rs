//! Givens shared by the order's tests: one order placed at a fixed time, the histories that bring
//! it to each status, and the saga's expected decisions. Test-only; nothing here is part of the
//! crate.

use contracts::value::{Email, Money, OrderId, Quantity, Sku};
use contracts::{Compensation, OrderCancelled, RefundPayment, ReleaseStock};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::saga::{Deadline, SagaCommand, SagaDecision, SagaInput, react};
use crate::{Order, OrderCommand, OrderEvent, OrderStatus, PricedLine, decide, replay};

pub(crate) const ORDER_ID: OrderId =
    OrderId::new(Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001));
pub(crate) const PAYMENT_ID: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0002);
pub(crate) const CUSTOMER: &str = "ada@example.com";
/// The currency the test catalog prices in.
pub(crate) const CURRENCY: &str = "EUR";
pub(crate) const PAYMENT_REFERENCE: &str = "sha256:00112233445566778899aabb";
/// Two laptops at 999.00 and three mice at 25.00.
pub(crate) const TOTAL_MINOR: i64 = 2 * 99_900 + 3 * 2_500;

/// `minutes` after the moment the order is placed.
pub(crate) fn at(minutes: i64) -> OffsetDateTime {
    datetime!(2025-03-01 12:00 UTC) + Duration::minutes(minutes)
}

pub(crate) fn customer() -> Email {
    Email::parse(CUSTOMER).expect("the test email is valid")
}

pub(crate) fn sku(raw: &str) -> Sku {
    Sku::parse(raw).expect("the test sku is valid")
}

pub(crate) fn quantity(units: u32) -> Quantity {
    Quantity::new(units).expect("the test quantity is in range")
}

pub(crate) fn line(sku_id: &str, name: &str, units: u32, unit_price_minor: i64) -> PricedLine {
    PricedLine {
        sku: sku(sku_id),
        name: name.to_owned(),
        quantity: quantity(units),
        unit_price: Money::new(unit_price_minor, CURRENCY),
    }
}

pub(crate) fn place_with(lines: Vec<PricedLine>) -> OrderCommand {
    OrderCommand::Place {
        order_id: ORDER_ID,
        customer_email: customer(),
        lines,
        payment_reference: PAYMENT_REFERENCE.to_owned(),
        at: at(0),
    }
}

/// The command that places the order every test starts from.
pub(crate) fn place_order() -> OrderCommand {
    place_with(vec![
        line("product-001", "Laptop", 2, 99_900),
        line("product-002", "Mouse", 3, 2_500),
    ])
}

/// The order's state after `events`, as the event store would rebuild it.
pub(crate) fn given(events: &[OrderEvent]) -> Option<Order> {
    replay(events)
}

/// Decides `command` on the state `events` lead to, and appends what it decided.
fn then_after(events: &mut Vec<OrderEvent>, command: OrderCommand) {
    let state = given(events);
    let new = decide(state.as_ref(), command).expect("the history's command is accepted");
    events.extend(new);
}

/// The history that leaves the order in `status`.
pub(crate) fn history_to(status: OrderStatus) -> Vec<OrderEvent> {
    let mut events = vec![];
    then_after(&mut events, place_order());
    match status {
        OrderStatus::Pending => {}
        OrderStatus::Cancelled => then_after(
            &mut events,
            OrderCommand::Cancel {
                reason: "timed out waiting for the stock reservation".to_owned(),
                at: at(5),
            },
        ),
        OrderStatus::InventoryReserved | OrderStatus::Paid | OrderStatus::Completed => {
            then_after(&mut events, OrderCommand::ConfirmStock { at: at(1) });
            if status != OrderStatus::InventoryReserved {
                then_after(
                    &mut events,
                    OrderCommand::ConfirmPayment {
                        payment_id: PAYMENT_ID,
                        amount_minor: TOTAL_MINOR,
                        at: at(2),
                    },
                );
            }
            if status == OrderStatus::Paid {
                // Paid and Completed are decided together; Paid alone is the state between them.
                events.pop();
            }
        }
    }
    events
}

/// The order in `status`.
pub(crate) fn order_in(status: OrderStatus) -> Order {
    let order = given(&history_to(status)).expect("the order is placed");
    assert_eq!(order.status, status, "the given history reaches {status}");
    order
}

pub(crate) fn payment_succeeded() -> SagaInput {
    SagaInput::PaymentSucceeded {
        payment_id: PAYMENT_ID,
        amount_minor: TOTAL_MINOR,
    }
}

/// When `input` reaches the saga of `order`, three minutes after it was placed.
pub(crate) fn when(order: &Order, input: SagaInput) -> SagaDecision {
    react(order, input, at(3)).expect("the saga accepts the input")
}

/// The `Cancelled` event of a saga decision made by [`when`].
pub(crate) fn cancelled(reason: &str, compensations: Vec<Compensation>) -> OrderEvent {
    OrderEvent::Cancelled(OrderCancelled {
        order_id: ORDER_ID,
        customer_email: customer(),
        reason: reason.to_owned(),
        compensations,
        cancelled_at: at(3),
    })
}

pub(crate) fn release_stock() -> SagaCommand {
    SagaCommand::ReleaseStock(ReleaseStock { order_id: ORDER_ID })
}

pub(crate) fn refund_payment() -> SagaCommand {
    SagaCommand::RefundPayment(RefundPayment { order_id: ORDER_ID })
}

/// A decision that changes nothing: no event, no command, the deadline as it was.
pub(crate) fn nothing() -> SagaDecision {
    SagaDecision {
        events: vec![],
        commands: vec![],
        deadline: Deadline::Keep,
    }
}
