//! Rows that hold a message: an outbox row read into the relay's [`OutboxEntry`].

use store::OutboxEntry;

use crate::SqlRow;

/// A row of `outbox` (`id`, `envelope`).
///
/// # Errors
/// [`store::StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn outbox_entry(row: &impl SqlRow) -> store::Result<OutboxEntry> {
    Ok(OutboxEntry {
        id: row.integer("id")?,
        envelope: row.envelope("envelope")?,
    })
}

#[cfg(test)]
mod tests {
    use store::StoreError;

    use super::*;
    use crate::fake::{FakeRow, envelope};
    use crate::value::envelope_json;

    #[test]
    fn an_outbox_row_gives_its_id_and_envelope_and_a_broken_envelope_is_corrupt() {
        let envelope = envelope();
        let row = FakeRow::default()
            .with("id", 42)
            .with("envelope", envelope_json(&envelope).expect("json"));
        let entry = outbox_entry(&row).expect("an entry");
        assert_eq!(entry.id, 42);
        assert_eq!(entry.envelope, envelope);
        let broken = FakeRow::default().with("id", 43).with("envelope", "{");
        assert!(matches!(
            outbox_entry(&broken),
            Err(StoreError::Unexpected(_))
        ));
    }
}
