//! The analytics service's store: kept events, counters per minute and per hour, and each
//! order's two moments.

use std::sync::Arc;

use analytics_domain::{
    Aggregates, Bucket, Increment, Metric, OrderMoment, OrderTimes, counter_rows,
};
use contracts::{Envelope, Message, StockReserved};
use store::analytics::{AnalyticsStore, ArchiveFile, CompletionTimes, Point, Total};
use uuid::Uuid;

use super::new_order_id;

/// 2025-12-03 10:00:00 UTC, in unix ms.
const TEN_O_CLOCK: i64 = 1_764_756_000_000;
const MINUTE: i64 = 60_000;

fn event() -> Envelope {
    let order_id = new_order_id();
    Envelope::build(Uuid::now_v7(), &Message::from(StockReserved { order_id }))
        .at(time::OffsetDateTime::now_utc())
}

fn increment(metric: Metric, dimension: &str, at_ms: i64, value: i64) -> Increment {
    Increment {
        metric,
        dimension: dimension.to_owned(),
        at_ms,
        value,
    }
}

/// A streamed event is kept once; one kept in a dropped transaction is not.
pub async fn a_streamed_event_is_kept_once(store: Arc<dyn AnalyticsStore>) {
    let kept = event();
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.keep_event(&kept).await.expect("keep"));
    assert!(!tx.keep_event(&kept).await.expect("keep again"));
    tx.commit().await.expect("commit");

    let mut tx = store.begin().await.expect("begin");
    assert!(!tx.keep_event(&kept).await.expect("keep after commit"));
    tx.keep_event(&event()).await.expect("keep another");
    drop(tx);
    assert_eq!(store.event_count().await.expect("count"), 1);
}

/// A file claimed in parts, a transaction each, holds every part and counts them all; an
/// event another file holds is not taken again, nor counted.
pub async fn a_file_claimed_in_parts_holds_and_counts_every_part(store: Arc<dyn AnalyticsStore>) {
    let events: Vec<Envelope> = (0..5).map(|_| event()).collect();
    let mut tx = store.begin().await.expect("begin");
    for kept in &events {
        tx.keep_event(kept).await.expect("keep");
    }
    tx.commit().await.expect("commit");
    let ids: Vec<Uuid> = events.iter().map(|kept| kept.message_id).collect();
    let hour = TEN_O_CLOCK - TEN_O_CLOCK % (60 * MINUTE);

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(
        tx.claim_file("other", hour, &ids[4..])
            .await
            .expect("claim"),
        1
    );
    tx.commit().await.expect("commit");
    for part in [&ids[..2], &ids[2..]] {
        let mut tx = store.begin().await.expect("begin");
        let taken = tx
            .claim_file("parts", hour, part)
            .await
            .expect("claim a part");
        assert_eq!(
            taken, 2,
            "the last event of the second part is the other file's"
        );
        tx.commit().await.expect("commit");
    }

    let in_parts = store
        .file_events("parts")
        .await
        .expect("read the file's events");
    let mut held: Vec<Uuid> = in_parts.iter().map(|kept| kept.message_id).collect();
    held.sort();
    let mut expected = ids[..4].to_vec();
    expected.sort();
    assert_eq!(held, expected);
    let files = store.archive_files().await.expect("list the files");
    let file = |name: &str| {
        files
            .iter()
            .find(|file| file.name == name)
            .cloned()
            .expect("listed")
    };
    assert_eq!(
        (file("parts"), file("other")),
        (
            ArchiveFile {
                name: "parts".to_owned(),
                events: 4,
                written: false
            },
            ArchiveFile {
                name: "other".to_owned(),
                events: 1,
                written: false
            }
        )
    );
}

/// Increments add up in their minute's and their hour's bucket; a range sums whole buckets,
/// a series lists them oldest first, then by dimension.
pub async fn increments_add_up_per_minute_and_per_hour(store: Arc<dyn AnalyticsStore>) {
    let mut tx = store.begin().await.expect("begin");
    tx.add(&[
        increment(Metric::OrdersPlaced, "", TEN_O_CLOCK + 5_000, 1),
        increment(Metric::RevenueMinor, "USD", TEN_O_CLOCK + 6_000, 2_599),
        increment(Metric::OrdersPlaced, "", TEN_O_CLOCK + MINUTE + 1, 1),
    ])
    .await
    .expect("add");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    tx.add(&[
        increment(Metric::OrdersPlaced, "", TEN_O_CLOCK + 59_999, 1),
        increment(Metric::RevenueMinor, "EUR", TEN_O_CLOCK, 100),
        increment(Metric::OrdersPlaced, "", TEN_O_CLOCK + 60 * MINUTE, 1),
    ])
    .await
    .expect("add");
    tx.commit().await.expect("commit");

    let first_minute = store
        .totals(Bucket::Minute, TEN_O_CLOCK, TEN_O_CLOCK + MINUTE)
        .await
        .expect("totals");
    let total = |metric: Metric, dimension: &str, value: i64| Total {
        metric,
        dimension: dimension.to_owned(),
        value,
    };
    let mut expected = vec![
        total(Metric::OrdersPlaced, "", 2),
        total(Metric::RevenueMinor, "EUR", 100),
        total(Metric::RevenueMinor, "USD", 2_599),
    ];
    assert_eq!(sorted(first_minute), sorted(expected.clone()));

    let first_hour = store
        .totals(Bucket::Hour, TEN_O_CLOCK, TEN_O_CLOCK + 60 * MINUTE)
        .await
        .expect("totals");
    expected[0] = total(Metric::OrdersPlaced, "", 3);
    assert_eq!(sorted(first_hour), sorted(expected));

    let series = store
        .series(
            Bucket::Minute,
            Metric::OrdersPlaced,
            TEN_O_CLOCK,
            TEN_O_CLOCK + 61 * MINUTE,
        )
        .await
        .expect("series");
    let point = |start_ms: i64, value: i64| Point {
        start_ms,
        dimension: String::new(),
        value,
    };
    assert_eq!(
        series,
        [
            point(TEN_O_CLOCK, 2),
            point(TEN_O_CLOCK + MINUTE, 1),
            point(TEN_O_CLOCK + 60 * MINUTE, 1),
        ]
    );
    let hours = store
        .series(
            Bucket::Hour,
            Metric::RevenueMinor,
            TEN_O_CLOCK,
            TEN_O_CLOCK + 120 * MINUTE,
        )
        .await
        .expect("series");
    assert_eq!(
        hours
            .iter()
            .map(|p| (p.dimension.as_str(), p.value))
            .collect::<Vec<_>>(),
        [("EUR", 100), ("USD", 2_599)]
    );
}

fn sorted(mut totals: Vec<Total>) -> Vec<Total> {
    totals.sort_by(|a, b| (a.metric.name(), &a.dimension).cmp(&(b.metric.name(), &b.dimension)));
    totals
}

/// An order's moments are recorded in either order (the first one of each kind stays), and
/// the completion times of the orders completed in a range are counted, summed and ranked.
pub async fn an_orders_moments_meet_whichever_comes_first(store: Arc<dyn AnalyticsStore>) {
    let order = new_order_id();
    let mut tx = store.begin().await.expect("begin");
    let before = tx
        .note_moment(order, OrderMoment::Completed, TEN_O_CLOCK + 9_000)
        .await
        .expect("note");
    assert_eq!(before, OrderTimes::default());
    let before = tx
        .note_moment(order, OrderMoment::Placed, TEN_O_CLOCK + 1_000)
        .await
        .expect("note");
    assert_eq!(before.completed_at_ms, Some(TEN_O_CLOCK + 9_000));
    assert_eq!(before.placed_at_ms, None);
    let before = tx
        .note_moment(order, OrderMoment::Placed, TEN_O_CLOCK + 5_000)
        .await
        .expect("note again");
    assert_eq!(
        before.placed_at_ms,
        Some(TEN_O_CLOCK + 1_000),
        "the first stays"
    );
    // Nineteen more, completed 1 s to 19 s after placement; one placed only.
    for seconds in 1..=19 {
        let other = new_order_id();
        tx.note_moment(other, OrderMoment::Placed, TEN_O_CLOCK)
            .await
            .expect("note");
        tx.note_moment(other, OrderMoment::Completed, TEN_O_CLOCK + seconds * 1_000)
            .await
            .expect("note");
    }
    tx.note_moment(new_order_id(), OrderMoment::Placed, TEN_O_CLOCK)
        .await
        .expect("note");
    tx.commit().await.expect("commit");

    let times = store
        .completion_times(TEN_O_CLOCK, TEN_O_CLOCK + MINUTE)
        .await
        .expect("times");
    // 1 + 2 + … + 19 s, and the first order's 8 s.
    assert_eq!(
        times,
        CompletionTimes {
            count: 20,
            total_ms: 190_000 + 8_000,
            p95_ms: Some(18_000),
        }
    );
    let none = store
        .completion_times(TEN_O_CLOCK + MINUTE, TEN_O_CLOCK + 2 * MINUTE)
        .await
        .expect("times");
    assert_eq!(none, CompletionTimes::default());
}

/// Moments noted together meet as if noted one by one: each answer is what was known of its
/// order before it, counting the earlier moments of the list; the first of each moment stays.
/// Events kept together are kept once each.
pub async fn moments_noted_together_meet_as_if_noted_one_by_one(store: Arc<dyn AnalyticsStore>) {
    let (earlier, fresh) = (new_order_id(), new_order_id());
    let mut tx = store.begin().await.expect("begin");
    tx.note_moment(earlier, OrderMoment::Placed, TEN_O_CLOCK)
        .await
        .expect("note");
    tx.commit().await.expect("commit");

    let kept = event();
    let mut tx = store.begin().await.expect("begin");
    tx.keep_events(&[&kept, &event(), &kept])
        .await
        .expect("keep together, one twice");
    let mut moments = vec![
        (earlier, OrderMoment::Completed, TEN_O_CLOCK + 4_000),
        (earlier, OrderMoment::Placed, TEN_O_CLOCK + 1_000),
        (fresh, OrderMoment::Completed, TEN_O_CLOCK + 9_000),
        (fresh, OrderMoment::Placed, TEN_O_CLOCK + 2_000),
    ];
    // In id order, each order's moments as they came.
    moments.sort_by_key(|(order_id, _, _)| order_id.as_uuid());
    let before = tx.note_moments(&moments).await.expect("note together");
    tx.commit().await.expect("commit");

    let expected: Vec<OrderTimes> = moments
        .iter()
        .map(
            |(order_id, moment, _)| match (*order_id == earlier, moment) {
                (true, OrderMoment::Completed) => OrderTimes {
                    placed_at_ms: Some(TEN_O_CLOCK),
                    completed_at_ms: None,
                },
                (true, OrderMoment::Placed) => OrderTimes {
                    placed_at_ms: Some(TEN_O_CLOCK),
                    completed_at_ms: Some(TEN_O_CLOCK + 4_000),
                },
                (false, OrderMoment::Completed) => OrderTimes::default(),
                (false, OrderMoment::Placed) => OrderTimes {
                    placed_at_ms: None,
                    completed_at_ms: Some(TEN_O_CLOCK + 9_000),
                },
            },
        )
        .collect();
    assert_eq!(before, expected);
    assert_eq!(store.event_count().await.expect("count"), 2);
    // 4 s and 7 s from placement to completion.
    assert_eq!(
        store
            .completion_times(TEN_O_CLOCK, TEN_O_CLOCK + MINUTE)
            .await
            .expect("times"),
        CompletionTimes {
            count: 2,
            total_ms: 11_000,
            p95_ms: Some(7_000),
        }
    );
}

/// Every counter and every order's moments read back as written, each row once, whatever
/// transactions added to it.
pub async fn the_aggregates_read_back_every_counter_and_order(store: Arc<dyn AnalyticsStore>) {
    let first = [
        increment(Metric::OrdersPlaced, "", TEN_O_CLOCK + 5_000, 1),
        increment(Metric::RevenueMinor, "USD", TEN_O_CLOCK + 6_000, 2_599),
    ];
    let second = [
        increment(Metric::OrdersPlaced, "", TEN_O_CLOCK + 70 * MINUTE, 1),
        increment(Metric::RevenueMinor, "USD", TEN_O_CLOCK + 7_000, 1),
    ];
    let (placed, completed) = (new_order_id(), new_order_id());
    let mut tx = store.begin().await.expect("begin");
    tx.add(&first).await.expect("add");
    tx.note_moment(placed, OrderMoment::Placed, TEN_O_CLOCK)
        .await
        .expect("note");
    tx.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    tx.add(&second).await.expect("add");
    tx.note_moment(completed, OrderMoment::Completed, TEN_O_CLOCK + 9_000)
        .await
        .expect("note");
    tx.note_moment(completed, OrderMoment::Placed, TEN_O_CLOCK + 1_000)
        .await
        .expect("note");
    tx.commit().await.expect("commit");

    let all: Vec<Increment> = first.into_iter().chain(second).collect();
    let expected = Aggregates {
        counters: counter_rows(&all),
        orders: [
            (
                placed,
                OrderTimes {
                    placed_at_ms: Some(TEN_O_CLOCK),
                    completed_at_ms: None,
                },
            ),
            (
                completed,
                OrderTimes {
                    placed_at_ms: Some(TEN_O_CLOCK + 1_000),
                    completed_at_ms: Some(TEN_O_CLOCK + 9_000),
                },
            ),
        ]
        .into_iter()
        .collect(),
    };
    let stored = store.aggregates().await.expect("aggregates");
    assert_eq!(stored, expected);
    assert_eq!(
        stored
            .counters
            .iter()
            .filter(|(key, _)| key.bucket == Bucket::Hour && key.metric == Metric::RevenueMinor)
            .map(|(_, value)| *value)
            .collect::<Vec<_>>(),
        [2_600],
        "one row per bucket, its increments summed"
    );
}

/// An order's placement and completion recorded at once by two transactions meet: exactly
/// one of them sees the other.
pub async fn concurrent_moments_of_one_order_meet_once(store: Arc<dyn AnalyticsStore>) {
    for _ in 0..10 {
        let order = new_order_id();
        let note = |moment: OrderMoment| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await.expect("begin");
                let before = tx
                    .note_moment(order, moment, TEN_O_CLOCK)
                    .await
                    .expect("note");
                tx.commit().await.expect("commit");
                before
            })
        };
        let placed = note(OrderMoment::Placed);
        let completed = note(OrderMoment::Completed);
        let placed = placed.await.expect("placed");
        let completed = completed.await.expect("completed");
        let saw_the_other = usize::from(placed.completed_at_ms.is_some())
            + usize::from(completed.placed_at_ms.is_some());
        assert_eq!(saw_the_other, 1, "{placed:?} {completed:?}");
    }
}

/// Concurrent transactions adding to the same counters all count, without deadlocks.
pub async fn concurrent_additions_to_one_counter_all_count(store: Arc<dyn AnalyticsStore>) {
    let writers: Vec<_> = (0..8)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await.expect("begin");
                // Opposite orders in turn: the adapter writes them in one order anyway.
                let mut increments = vec![
                    increment(Metric::OrdersPlaced, "", TEN_O_CLOCK, 1),
                    increment(Metric::StockOuts, "product-001", TEN_O_CLOCK + MINUTE, 1),
                ];
                if n % 2 == 1 {
                    increments.reverse();
                }
                tx.add(&increments).await.expect("add");
                tx.commit().await.expect("commit");
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let totals = store
        .totals(Bucket::Hour, TEN_O_CLOCK, TEN_O_CLOCK + 60 * MINUTE)
        .await
        .expect("totals");
    assert_eq!(
        sorted(totals),
        [
            Total {
                metric: Metric::OrdersPlaced,
                dimension: String::new(),
                value: 8
            },
            Total {
                metric: Metric::StockOuts,
                dimension: "product-001".to_owned(),
                value: 8
            },
        ]
    );
}
