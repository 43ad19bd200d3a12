//! The notification service's rows read into its port's types.

use store::notification::Notification;

use crate::SqlRow;
use crate::value::from_millis;

/// A row of `notifications` (`order_id`, `message_id`, `recipient`, `subject`, `body`,
/// `sent_at` in unix milliseconds).
///
/// # Errors
/// [`store::StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn notification(row: &impl SqlRow) -> store::Result<Notification> {
    Ok(Notification {
        order_id: row.order_id("order_id")?,
        message_id: row.uuid("message_id")?,
        recipient: row.email("recipient")?,
        subject: row.text("subject")?,
        body: row.text("body")?,
        sent_at: from_millis(row.integer("sent_at")?),
    })
}

#[cfg(test)]
mod tests {
    use contracts::value::OrderId;
    use uuid::Uuid;

    use super::*;
    use crate::fake::FakeRow;
    use crate::value::unix_millis;

    fn row(order_id: OrderId, message_id: Uuid, recipient: &str) -> FakeRow {
        FakeRow::default()
            .with("order_id", order_id.to_string())
            .with("message_id", message_id.to_string())
            .with("recipient", recipient)
            .with("subject", "Your order")
            .with("body", "is complete")
            .with("sent_at", 1_700_000_000_123)
    }

    #[test]
    fn a_notification_row_maps_to_the_email_sent() {
        let (order_id, message_id) = (OrderId::new(Uuid::now_v7()), Uuid::now_v7());
        let sent =
            notification(&row(order_id, message_id, "ada@example.com")).expect("a notification");
        assert_eq!(sent.order_id, order_id);
        assert_eq!(sent.message_id, message_id);
        assert_eq!(sent.recipient.as_str(), "ada@example.com");
        assert_eq!(sent.subject, "Your order");
        assert_eq!(sent.body, "is complete");
        assert_eq!(unix_millis(sent.sent_at), 1_700_000_000_123);
    }

    #[test]
    fn a_notification_row_whose_recipient_is_no_address_is_corrupt() {
        let row = row(OrderId::new(Uuid::now_v7()), Uuid::now_v7(), "ada");
        assert!(matches!(
            notification(&row),
            Err(store::StoreError::Unexpected(_))
        ));
    }
}
