//! The words of each email: which events reach a customer, and what they say.
//!
//! Pure: no I/O, no clock. The service adds the message id and the time of sending.

use contracts::value::{Email, Money, OrderId};
use contracts::{Compensation, Message, OrderCancelled, OrderCompleted};

/// The message types that send the customer an email.
pub(crate) const NOTIFIED_TYPES: [&str; 2] = ["order.completed", "order.cancelled"];

/// An email before it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Draft {
    pub(crate) order_id: OrderId,
    pub(crate) recipient: Email,
    pub(crate) subject: String,
    pub(crate) body: String,
}

/// The email a message sends its customer, if any.
pub(crate) fn draft(message: &Message) -> Option<Draft> {
    match message {
        Message::OrderCompleted(completed) => Some(confirmation(completed)),
        Message::OrderCancelled(cancelled) => Some(cancellation(cancelled)),
        _ => None,
    }
}

fn confirmation(completed: &OrderCompleted) -> Draft {
    let order_id = completed.order_id;
    let lines: String = completed
        .items
        .iter()
        .map(|line| {
            let quantity = line.quantity.get();
            let line_total = Money::new(
                line.unit_price_minor.saturating_mul(i64::from(quantity)),
                completed.currency.clone(),
            );
            format!(
                "  {quantity} x {} ({}) at {}: {line_total}\n",
                line.name,
                line.product_id,
                Money::new(line.unit_price_minor, completed.currency.clone()),
            )
        })
        .collect();
    Draft {
        order_id,
        recipient: completed.customer_email.clone(),
        subject: format!("Your order {order_id} is confirmed"),
        body: format!(
            "Hello,\n\nthank you for your order {order_id}. It is paid and on its way.\n\n\
             {lines}Total charged: {}.\n\nOrderflow",
            completed.total(),
        ),
    }
}

fn cancellation(cancelled: &OrderCancelled) -> Draft {
    let order_id = cancelled.order_id;
    let refund = if cancelled
        .compensations
        .contains(&Compensation::RefundPayment)
    {
        "\nThe payment we took will be refunded in full."
    } else {
        "\nYou have not been charged."
    };
    Draft {
        order_id,
        recipient: cancelled.customer_email.clone(),
        subject: format!("Your order {order_id} was cancelled"),
        body: format!(
            "Hello,\n\nwe are sorry: your order {order_id} was cancelled.\nReason: {}.{refund}\n\nOrderflow",
            cancelled.reason,
        ),
    }
}

#[cfg(test)]
mod tests {
    use contracts::value::{Quantity, Sku};
    use contracts::{OrderLine, OrderPlaced, StockReleased};
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    fn ada() -> Email {
        Email::parse("ada@example.com").expect("a valid email")
    }

    fn completed() -> OrderCompleted {
        OrderCompleted {
            order_id: OrderId::new(Uuid::now_v7()),
            customer_email: ada(),
            items: vec![
                OrderLine {
                    product_id: Sku::parse("product-002").expect("a valid sku"),
                    name: "Mouse".into(),
                    quantity: Quantity::new(3).expect("a valid quantity"),
                    unit_price_minor: 2_599,
                },
                OrderLine {
                    product_id: Sku::parse("product-003").expect("a valid sku"),
                    name: "Keyboard".into(),
                    quantity: Quantity::new(1).expect("a valid quantity"),
                    unit_price_minor: 5_198,
                },
            ],
            total_minor: 12_995,
            currency: "EUR".into(),
            completed_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn cancelled(compensations: Vec<Compensation>) -> OrderCancelled {
        OrderCancelled {
            order_id: OrderId::new(Uuid::now_v7()),
            customer_email: ada(),
            reason: "insufficient stock for product-001: requested 1000, available 100".into(),
            compensations,
            cancelled_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_completed_order_is_confirmed_with_its_total() {
        let event = completed();
        let draft = draft(&Message::from(event.clone())).expect("a confirmation");
        assert_eq!(draft.order_id, event.order_id);
        assert_eq!(draft.recipient.as_str(), "ada@example.com");
        assert_eq!(
            draft.subject,
            format!("Your order {} is confirmed", event.order_id)
        );
        assert!(draft.body.contains("129.95 EUR"), "{}", draft.body);
        assert!(
            draft
                .body
                .contains("3 x Mouse (product-002) at 25.99 EUR: 77.97 EUR"),
            "{}",
            draft.body
        );
        assert!(
            draft
                .body
                .contains("1 x Keyboard (product-003) at 51.98 EUR: 51.98 EUR"),
            "{}",
            draft.body
        );
    }

    #[test]
    fn a_cancelled_order_names_the_reason() {
        let event = cancelled(vec![Compensation::ReleaseStock]);
        let draft = draft(&Message::from(event.clone())).expect("a cancellation");
        assert_eq!(
            draft.subject,
            format!("Your order {} was cancelled", event.order_id)
        );
        assert!(draft.body.contains(&event.reason), "{}", draft.body);
        assert!(draft.body.contains("not been charged"), "{}", draft.body);
    }

    #[test]
    fn a_cancelled_order_that_was_paid_promises_a_refund() {
        let event = cancelled(vec![
            Compensation::ReleaseStock,
            Compensation::RefundPayment,
        ]);
        let draft = draft(&Message::from(event)).expect("a cancellation");
        assert!(draft.body.contains("refunded"), "{}", draft.body);
    }

    #[test]
    fn other_messages_send_no_email() {
        let order_id = OrderId::new(Uuid::now_v7());
        assert_eq!(draft(&Message::from(StockReleased { order_id })), None);
        let placed = OrderPlaced {
            order_id,
            customer_email: ada(),
            items: Vec::new(),
            total_minor: 0,
            currency: "USD".into(),
            payment_reference: "sha256:00112233445566778899aabb".into(),
            placed_at: OffsetDateTime::UNIX_EPOCH,
        };
        assert_eq!(draft(&Message::from(placed)), None);
    }

    #[test]
    fn only_the_types_with_a_draft_are_notified() {
        for (message_type, _) in Message::TYPES {
            let notified = NOTIFIED_TYPES.contains(message_type);
            let subscribed =
                contracts::subscribers(message_type).contains(&contracts::Queue::Notification);
            assert_eq!(notified, subscribed, "{message_type}");
        }
    }
}
