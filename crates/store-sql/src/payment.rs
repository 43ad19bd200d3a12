//! The payment service's rows read into its port's types.

use contracts::value::Money;
use payment_domain::{Payment, PaymentStatus};

use crate::{SqlRow, corrupt};

/// A row of `payments` (`payment_id`, `order_id`, `amount_minor`, `currency`, `status`,
/// `failure_reason`).
///
/// # Errors
/// [`store::StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn payment(row: &impl SqlRow) -> store::Result<Payment> {
    let status = row.text("status")?;
    Ok(Payment {
        payment_id: row.uuid("payment_id")?,
        order_id: row.order_id("order_id")?,
        amount: Money::new(row.integer("amount_minor")?, row.text("currency")?),
        status: PaymentStatus::parse(&status).ok_or_else(|| corrupt("payment status", &status))?,
        failure_reason: row.optional_text("failure_reason")?,
    })
}

#[cfg(test)]
mod tests {
    use store::StoreError;
    use uuid::Uuid;

    use super::*;
    use crate::fake::FakeRow;

    fn row(status: &str) -> FakeRow {
        FakeRow::default()
            .with("payment_id", Uuid::now_v7().to_string())
            .with("order_id", Uuid::now_v7().to_string())
            .with("amount_minor", 12_995)
            .with("currency", "EUR")
            .with("status", status)
    }

    #[test]
    fn a_payment_row_maps_to_its_payment_with_or_without_a_failure_reason() {
        let pending = payment(&row("pending").with_null("failure_reason")).expect("a payment");
        assert_eq!(pending.status, PaymentStatus::Pending);
        assert_eq!(pending.amount, Money::new(12_995, "EUR"));
        assert_eq!(pending.failure_reason, None);
        let declined =
            payment(&row("failed").with("failure_reason", "card declined")).expect("a payment");
        assert_eq!(declined.failure_reason.as_deref(), Some("card declined"));
    }

    #[test]
    fn an_unknown_payment_status_is_corrupt() {
        assert!(matches!(
            payment(&row("maybe").with_null("failure_reason")),
            Err(StoreError::Unexpected(_))
        ));
    }
}
