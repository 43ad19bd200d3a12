//! A result row of either SQL adapter, read by column name into the values of [`crate::value`],
//! so that one function maps a row to a port's type for both databases.

use contracts::Envelope;
use contracts::value::{Email, OrderId, Sku};
use store::StoreError;
use uuid::Uuid;

use crate::value::{parse_email, parse_envelope, parse_order_id, parse_sku, parse_uuid, to_count};

/// A row read by column name. Implemented for the rows of every `sqlx` database that decodes
/// text and 64-bit integers, SQLite's and PostgreSQL's among them.
pub trait SqlRow {
    /// A text column.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the column is missing, null or not text.
    fn text(&self, column: &str) -> store::Result<String>;

    /// A nullable text column.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the column is missing or not text.
    fn optional_text(&self, column: &str) -> store::Result<Option<String>>;

    /// An integer column.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the column is missing, null or not an integer.
    fn integer(&self, column: &str) -> store::Result<i64>;

    /// An id column.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the column is unreadable or not a UUID.
    fn uuid(&self, column: &str) -> store::Result<Uuid> {
        parse_uuid(&self.text(column)?)
    }

    /// An order id column.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the column is unreadable or not an order id.
    fn order_id(&self, column: &str) -> store::Result<OrderId> {
        parse_order_id(&self.text(column)?)
    }

    /// A product id column.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the column is unreadable or not a valid product id.
    fn sku(&self, column: &str) -> store::Result<Sku> {
        parse_sku(&self.text(column)?)
    }

    /// An email address column.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the column is unreadable or not a valid address.
    fn email(&self, column: &str) -> store::Result<Email> {
        parse_email(&self.text(column)?)
    }

    /// An envelope column.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the column is unreadable or not an envelope.
    fn envelope(&self, column: &str) -> store::Result<Envelope> {
        parse_envelope(&self.text(column)?)
    }

    /// A count column (CHECKed non-negative) as the domain's `u32`.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the column is unreadable or out of range.
    fn count(&self, column: &str) -> store::Result<u32> {
        to_count(column, self.integer(column)?)
    }
}

impl<R> SqlRow for R
where
    R: sqlx::Row,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn text(&self, column: &str) -> store::Result<String> {
        self.try_get(column).map_err(|e| unreadable(column, e))
    }

    fn optional_text(&self, column: &str) -> store::Result<Option<String>> {
        self.try_get(column).map_err(|e| unreadable(column, e))
    }

    fn integer(&self, column: &str) -> store::Result<i64> {
        self.try_get(column).map_err(|e| unreadable(column, e))
    }
}

/// A column that is missing or of another type: the query and the schema disagree, a bug.
fn unreadable(column: &str, error: sqlx::Error) -> StoreError {
    StoreError::Unexpected(anyhow::Error::new(error).context(format!("read column {column}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::{FakeRow, envelope};

    #[test]
    fn ids_counts_and_envelopes_are_read_through_their_columns() {
        let id = Uuid::now_v7();
        let envelope = envelope();
        let row = FakeRow::default()
            .with("id", id.to_string())
            .with("available", 3)
            .with(
                "envelope",
                crate::value::envelope_json(&envelope).expect("json"),
            );
        assert_eq!(row.uuid("id").expect("an id"), id);
        assert_eq!(row.count("available").expect("a count"), 3);
        assert_eq!(row.envelope("envelope").expect("an envelope"), envelope);
    }

    #[test]
    fn a_missing_or_corrupt_column_is_unexpected() {
        let row = FakeRow::default()
            .with("id", "not-a-uuid")
            .with("available", -1);
        for result in [
            row.uuid("id").map(|_| ()),
            row.count("available").map(|_| ()),
            row.text("absent").map(|_| ()),
        ] {
            assert!(
                matches!(result, Err(StoreError::Unexpected(_))),
                "{result:?}"
            );
        }
    }
}
