//! The order service's rows read into its port's types, and the optimistic-concurrency rule of
//! its event streams.

use contracts::value::Money;
use order_domain::saga::SagaStep;
use store::StoreError;
use store::order::{DueDeadline, IdempotentRequest, Product, RecordedEvent};

use crate::{SqlRow, corrupt};

/// A row of `events` (`stream_version`, `envelope`).
///
/// # Errors
/// [`StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn recorded_event(row: &impl SqlRow) -> store::Result<RecordedEvent> {
    Ok(RecordedEvent {
        version: u64::try_from(row.integer("stream_version")?)
            .map_err(|e| corrupt("stream version", e))?,
        envelope: row.envelope("envelope")?,
    })
}

/// Whether a stream whose last version is `current` may be appended to by a writer that decided
/// from `expected`.
///
/// # Errors
/// [`StoreError::Conflict`] when the stream has moved on (or `current` is not a version).
pub fn ensure_stream_at(current: i64, expected: u64) -> store::Result<()> {
    if u64::try_from(current).ok() == Some(expected) {
        Ok(())
    } else {
        Err(StoreError::Conflict)
    }
}

/// A row of `products` (`sku`, `name`, `price_minor`, `currency`).
///
/// # Errors
/// [`StoreError::Unexpected`] when a column is unreadable.
pub fn product(row: &impl SqlRow) -> store::Result<Product> {
    Ok(Product {
        sku: row.sku("sku")?,
        name: row.text("name")?,
        price: Money::new(row.integer("price_minor")?, row.text("currency")?),
    })
}

/// A row of `deadlines` (`order_id`, `step`).
///
/// # Errors
/// [`StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn due_deadline(row: &impl SqlRow) -> store::Result<DueDeadline> {
    let step = row.text("step")?;
    Ok(DueDeadline {
        order_id: row.order_id("order_id")?,
        step: SagaStep::parse(&step).ok_or_else(|| corrupt("saga step", &step))?,
    })
}

/// A row of `idempotency_keys` (`request_hash`, `order_id`).
///
/// # Errors
/// [`StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn idempotent_request(row: &impl SqlRow) -> store::Result<IdempotentRequest> {
    Ok(IdempotentRequest {
        request_hash: row.text("request_hash")?,
        order_id: row.order_id("order_id")?,
    })
}

#[cfg(test)]
mod tests {
    use contracts::value::{OrderId, Sku};

    use uuid::Uuid;

    use super::*;
    use crate::fake::{FakeRow, envelope};
    use crate::value::envelope_json;

    #[test]
    fn an_event_row_gives_its_version_and_envelope() {
        let envelope = envelope();
        let row = FakeRow::default()
            .with("stream_version", 2)
            .with("envelope", envelope_json(&envelope).expect("json"));
        let event = recorded_event(&row).expect("an event");
        assert_eq!(event.version, 2);
        assert_eq!(event.envelope, envelope);
    }

    #[test]
    fn a_negative_stream_version_is_corrupt() {
        let row = FakeRow::default()
            .with("stream_version", -1)
            .with("envelope", envelope_json(&envelope()).expect("json"));
        assert!(matches!(
            recorded_event(&row),
            Err(StoreError::Unexpected(_))
        ));
    }

    #[test]
    fn appending_is_allowed_only_at_the_current_version() {
        assert!(ensure_stream_at(2, 2).is_ok());
        assert!(matches!(ensure_stream_at(2, 1), Err(StoreError::Conflict)));
        assert!(matches!(ensure_stream_at(-1, 0), Err(StoreError::Conflict)));
    }

    #[test]
    fn catalog_deadline_and_idempotency_rows_map_to_their_types() {
        let order_id = OrderId::new(Uuid::now_v7());
        let product_row = FakeRow::default()
            .with("sku", "product-001")
            .with("name", "Laptop")
            .with("price_minor", 99_900)
            .with("currency", "USD");
        assert_eq!(
            product(&product_row).expect("a product"),
            Product {
                sku: Sku::parse("product-001").expect("a valid sku"),
                name: "Laptop".into(),
                price: Money::new(99_900, "USD"),
            }
        );
        let deadline_row = FakeRow::default()
            .with("order_id", order_id.to_string())
            .with("step", "awaiting_payment");
        assert_eq!(
            due_deadline(&deadline_row).expect("a deadline"),
            DueDeadline {
                order_id,
                step: SagaStep::AwaitingPayment,
            }
        );
        let key_row = FakeRow::default()
            .with("request_hash", "hash")
            .with("order_id", order_id.to_string());
        assert_eq!(
            idempotent_request(&key_row).expect("a request"),
            IdempotentRequest {
                request_hash: "hash".into(),
                order_id,
            }
        );
    }

    #[test]
    fn a_catalog_row_whose_sku_is_no_product_id_is_corrupt() {
        let row = FakeRow::default()
            .with("sku", "product 001")
            .with("name", "Laptop")
            .with("price_minor", 99_900)
            .with("currency", "USD");
        assert!(matches!(product(&row), Err(StoreError::Unexpected(_))));
    }

    #[test]
    fn an_unknown_saga_step_is_corrupt() {
        let row = FakeRow::default()
            .with("order_id", Uuid::now_v7().to_string())
            .with("step", "awaiting_godot");
        assert!(matches!(due_deadline(&row), Err(StoreError::Unexpected(_))));
    }
}
