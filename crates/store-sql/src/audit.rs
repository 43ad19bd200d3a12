//! The audit reads' rows ([`store::audit`]) read into their types: order streams grouped from
//! their event rows, pending deadlines with how long ago they fell due, stock counters as
//! stored (signed), reservations, and the read model's kept events and views grouped by order.

use std::collections::BTreeMap;

use store::audit::{
    AuditedStream, PendingDeadline, ReadModelEntry, ReservationRecord, StockCounters,
};
use time::Duration;
use uuid::Uuid;

use crate::inventory::parse_reservation_status;
use crate::order::{due_deadline, recorded_event};
use crate::query::parse_view;
use crate::value::parse_uuid;
use crate::{SqlRow, corrupt};

/// The lower bound of a page of ids: every id sorts after the empty text.
pub fn page_after(after: Option<Uuid>) -> String {
    after.map(|id| id.to_string()).unwrap_or_default()
}

/// Rows of `events` (`stream_id`, `stream_version`, `envelope`, `age_ms`: how long ago the
/// event was recorded), ordered by stream then version, grouped into streams.
///
/// # Errors
/// [`store::StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn audited_streams(rows: &[impl SqlRow]) -> store::Result<Vec<AuditedStream>> {
    let mut streams: Vec<AuditedStream> = Vec::new();
    for row in rows {
        let order_id = row.uuid("stream_id")?;
        let event = recorded_event(row)?;
        let age = Duration::milliseconds(row.integer("age_ms")?);
        match streams.last_mut() {
            Some(stream) if stream.order_id == order_id => {
                stream.events.push(event);
                stream.quiet_for = stream.quiet_for.min(age);
            }
            _ => streams.push(AuditedStream {
                order_id,
                events: vec![event],
                quiet_for: age,
            }),
        }
    }
    Ok(streams)
}

/// A row of `deadlines` (`order_id`, `step`, `overdue_ms`: how long ago it fell due, negative
/// while ahead).
///
/// # Errors
/// [`store::StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn pending_deadline(row: &impl SqlRow) -> store::Result<PendingDeadline> {
    let due = due_deadline(row)?;
    Ok(PendingDeadline {
        order_id: due.order_id.as_uuid(),
        step: due.step,
        overdue_by: Duration::milliseconds(row.integer("overdue_ms")?),
    })
}

/// A row of `stock` with its `sku`, every counter as stored.
///
/// # Errors
/// [`store::StoreError::Unexpected`] when a column is unreadable.
pub fn stock_counters(row: &impl SqlRow) -> store::Result<StockCounters> {
    Ok(StockCounters {
        sku: row.text("sku")?,
        available: row.integer("available")?,
        reserved: row.integer("reserved")?,
        sold: row.integer("sold")?,
        initial: row.integer("initial")?,
        restocked: row.integer("restocked")?,
    })
}

/// A row of `reservations` (`order_id`, `status`).
///
/// # Errors
/// [`store::StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn reservation_record(row: &impl SqlRow) -> store::Result<ReservationRecord> {
    Ok(ReservationRecord {
        order_id: row.uuid("order_id")?,
        status: parse_reservation_status(&row.text("status")?)?,
    })
}

/// One page of the read model: the page's order `ids`, the kept events of those orders
/// (`order_id`, `envelope` rows) and their saved views (`order_id`, `view` rows), grouped by
/// order in id order. Rows of an order outside the page are corrupt: the adapter's ranges
/// and the page disagree.
///
/// # Errors
/// [`store::StoreError::Unexpected`] when a column is unreadable or corrupt.
pub fn read_model_entries(
    ids: &[String],
    events: &[impl SqlRow],
    views: &[impl SqlRow],
) -> store::Result<Vec<ReadModelEntry>> {
    let mut entries = BTreeMap::new();
    for id in ids {
        let order_id = parse_uuid(id)?;
        entries.insert(
            order_id,
            ReadModelEntry {
                order_id,
                events: Vec::new(),
                view: None,
            },
        );
    }
    for row in events {
        let envelope = row.envelope("envelope")?;
        entry_of(&mut entries, row)?.events.push(envelope);
    }
    for row in views {
        let view = parse_view(&row.text("view")?)?;
        entry_of(&mut entries, row)?.view = Some(view);
    }
    Ok(entries.into_values().collect())
}

fn entry_of<'a>(
    entries: &'a mut BTreeMap<Uuid, ReadModelEntry>,
    row: &impl SqlRow,
) -> store::Result<&'a mut ReadModelEntry> {
    let order_id = row.uuid("order_id")?;
    entries
        .get_mut(&order_id)
        .ok_or_else(|| corrupt("read model page", order_id))
}

#[cfg(test)]
mod tests {
    use inventory_domain::ReservationStatus;
    use order_domain::saga::SagaStep;
    use store::StoreError;

    use super::*;
    use crate::fake::{FakeRow, envelope};
    use crate::value::envelope_json;

    fn event_row(order_id: Uuid, version: i64, age_ms: i64) -> FakeRow {
        FakeRow::default()
            .with("stream_id", order_id.to_string())
            .with("stream_version", version)
            .with("envelope", envelope_json(&envelope()).expect("json"))
            .with("age_ms", age_ms)
    }

    #[test]
    fn event_rows_group_into_streams_quiet_since_their_last_event() {
        let (first, second) = (Uuid::now_v7(), Uuid::now_v7());
        let rows = [
            event_row(first, 1, 9_000),
            event_row(first, 2, 4_000),
            event_row(second, 1, 700),
        ];
        let streams = audited_streams(&rows).expect("streams");
        assert_eq!(streams.len(), 2);
        assert_eq!(streams[0].order_id, first);
        assert_eq!(
            streams[0]
                .events
                .iter()
                .map(|e| e.version)
                .collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(streams[0].quiet_for, Duration::seconds(4));
        assert_eq!(streams[1].quiet_for, Duration::milliseconds(700));
    }

    #[test]
    fn a_deadline_row_says_how_long_ago_it_fell_due() {
        let order_id = Uuid::now_v7();
        let row = FakeRow::default()
            .with("order_id", order_id.to_string())
            .with("step", "awaiting_stock")
            .with("overdue_ms", -1_500);
        assert_eq!(
            pending_deadline(&row).expect("a deadline"),
            PendingDeadline {
                order_id,
                step: SagaStep::AwaitingStock,
                overdue_by: Duration::milliseconds(-1_500),
            }
        );
    }

    #[test]
    fn stock_counters_keep_a_negative_count_and_reservations_their_status() {
        let row = FakeRow::default()
            .with("sku", "product-001")
            .with("available", -2)
            .with("reserved", 1)
            .with("sold", 3)
            .with("initial", 2)
            .with("restocked", 0);
        assert_eq!(stock_counters(&row).expect("counters").available, -2);
        let order_id = Uuid::now_v7();
        let reservation = FakeRow::default()
            .with("order_id", order_id.to_string())
            .with("status", "held");
        assert_eq!(
            reservation_record(&reservation).expect("a reservation"),
            ReservationRecord {
                order_id,
                status: ReservationStatus::Held,
            }
        );
    }

    #[test]
    fn a_read_model_page_groups_events_and_views_by_order_and_refuses_strays() {
        let (with_events, without) = (Uuid::now_v7(), Uuid::now_v7());
        let ids = [with_events.to_string(), without.to_string()];
        let event = FakeRow::default()
            .with("order_id", with_events.to_string())
            .with("envelope", envelope_json(&envelope()).expect("json"));
        let page = read_model_entries(&ids, &[event], &[] as &[FakeRow]).expect("a page");
        assert_eq!(page.len(), 2);
        assert_eq!(page[0].order_id, with_events);
        assert_eq!(page[0].events.len(), 1);
        assert!(page[1].events.is_empty() && page[1].view.is_none());
        let stray = FakeRow::default()
            .with("order_id", Uuid::now_v7().to_string())
            .with("envelope", envelope_json(&envelope()).expect("json"));
        assert!(matches!(
            read_model_entries(&ids, &[stray], &[] as &[FakeRow]),
            Err(StoreError::Unexpected(_))
        ));
        assert_eq!(page_after(None), "");
        assert_eq!(page_after(Some(without)), without.to_string());
    }
}
