//! The service over an in-memory store: a replayed stream changes nothing, and the same
//! events in any order give the same summary.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use analytics_domain::{
    Aggregates, Bucket, CounterKey, Increment, Metric, OrderMoment, OrderTimes, counter_rows,
    moment, percentile_index,
};
use api::AnalyticsWindow;
use async_trait::async_trait;
use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{
    Envelope, Message, OrderCancelled, OrderCompleted, OrderLine, OrderPlaced, PaymentFailed,
    PaymentSucceeded, StockInsufficient,
};
use store::UnitOfWork;
use store::analytics::{
    AnalyticsStore, AnalyticsTx, ArchiveBacklog, ArchiveFile, CompletionTimes, Point, Total,
    Unarchived,
};
use time::OffsetDateTime;
use time::macros::datetime;
use transport::Handler as _;
use uuid::Uuid;

use crate::AnalyticsService;

#[derive(Clone, Debug, Default)]
struct State {
    inbox: BTreeSet<Uuid>,
    events: BTreeSet<Uuid>,
    counters: BTreeMap<CounterKey, i64>,
    orders: BTreeMap<OrderId, OrderTimes>,
    /// Every moment noted, in the order it was noted (where PostgreSQL locks the order's row).
    noted: Vec<(OrderId, OrderMoment)>,
}

/// Transactions copy the state and put it back on commit.
#[derive(Clone, Default)]
struct MemoryStore(Arc<Mutex<State>>);

struct MemoryTx {
    store: MemoryStore,
    state: State,
}

impl MemoryStore {
    fn state(&self) -> State {
        self.0.lock().expect("state").clone()
    }
}

#[async_trait]
impl AnalyticsStore for MemoryStore {
    async fn begin(&self) -> store::Result<Box<dyn AnalyticsTx>> {
        Ok(Box::new(MemoryTx {
            store: self.clone(),
            state: self.state(),
        }))
    }

    async fn totals(&self, bucket: Bucket, from_ms: i64, to_ms: i64) -> store::Result<Vec<Total>> {
        let mut sums: BTreeMap<(&'static str, String), (Metric, i64)> = BTreeMap::new();
        for (key, value) in &self.state().counters {
            if key.bucket == bucket && (from_ms..to_ms).contains(&key.start_ms) {
                sums.entry((key.metric.name(), key.dimension.clone()))
                    .or_insert((key.metric, 0))
                    .1 += value;
            }
        }
        Ok(sums
            .into_iter()
            .map(|((_, dimension), (metric, value))| Total {
                metric,
                dimension,
                value,
            })
            .collect())
    }

    async fn series(
        &self,
        bucket: Bucket,
        metric: Metric,
        from_ms: i64,
        to_ms: i64,
    ) -> store::Result<Vec<Point>> {
        Ok(self
            .state()
            .counters
            .iter()
            .filter(|(key, _)| {
                key.bucket == bucket
                    && key.metric == metric
                    && (from_ms..to_ms).contains(&key.start_ms)
            })
            .map(|(key, value)| Point {
                start_ms: key.start_ms,
                dimension: key.dimension.clone(),
                value: *value,
            })
            .collect())
    }

    async fn completion_times(&self, from_ms: i64, to_ms: i64) -> store::Result<CompletionTimes> {
        let mut took: Vec<i64> = self
            .state()
            .orders
            .values()
            .filter_map(|times| match (times.placed_at_ms, times.completed_at_ms) {
                (Some(placed), Some(completed)) if (from_ms..to_ms).contains(&completed) => {
                    Some((completed - placed).max(0))
                }
                _ => None,
            })
            .collect();
        took.sort_unstable();
        let count = took.len() as u64;
        Ok(CompletionTimes {
            count,
            total_ms: took.iter().sum(),
            p95_ms: percentile_index(count, 95).map(|i| took[usize::try_from(i).expect("index")]),
        })
    }

    async fn event_count(&self) -> store::Result<u64> {
        Ok(self.state().events.len() as u64)
    }

    // The archive is tested on the real stores (`orderflow`'s tests).
    async fn archive_backlog(&self) -> store::Result<Vec<ArchiveBacklog>> {
        unreachable!("not archived in these tests")
    }

    async fn unwritten_files(&self) -> store::Result<Vec<String>> {
        unreachable!("not archived in these tests")
    }

    async fn file_events(&self, _name: &str) -> store::Result<Vec<Envelope>> {
        unreachable!("not archived in these tests")
    }

    async fn mark_written(&self, _name: &str) -> store::Result<()> {
        unreachable!("not archived in these tests")
    }

    async fn archive_files(&self) -> store::Result<Vec<ArchiveFile>> {
        unreachable!("not archived in these tests")
    }

    async fn archive_index(&self) -> store::Result<Vec<(Uuid, Option<String>, i64)>> {
        unreachable!("not archived in these tests")
    }

    async fn aggregates(&self) -> store::Result<Aggregates> {
        let state = self.state();
        Ok(Aggregates {
            counters: state.counters,
            orders: state.orders,
        })
    }
}

#[async_trait]
impl UnitOfWork for MemoryTx {
    async fn mark_handled(&mut self, message_id: Uuid) -> store::Result<bool> {
        Ok(self.state.inbox.insert(message_id))
    }

    async fn enqueue(&mut self, _envelope: &Envelope) -> store::Result<()> {
        unreachable!("analytics publishes nothing")
    }

    async fn commit(self: Box<Self>) -> store::Result<()> {
        *self.store.0.lock().expect("state") = self.state;
        Ok(())
    }
}

#[async_trait]
impl AnalyticsTx for MemoryTx {
    async fn keep_event(&mut self, envelope: &Envelope) -> store::Result<bool> {
        Ok(self.state.events.insert(envelope.message_id))
    }

    async fn add(&mut self, increments: &[Increment]) -> store::Result<()> {
        for (key, value) in counter_rows(increments) {
            *self.state.counters.entry(key).or_insert(0) += value;
        }
        Ok(())
    }

    async fn note_moment(
        &mut self,
        order_id: OrderId,
        moment: OrderMoment,
        at_ms: i64,
    ) -> store::Result<OrderTimes> {
        let before = self
            .state
            .orders
            .get(&order_id)
            .copied()
            .unwrap_or_default();
        self.state
            .orders
            .insert(order_id, before.with(moment, at_ms));
        self.state.noted.push((order_id, moment));
        Ok(before)
    }

    async fn unarchived(&mut self, _hour: i64, _max: usize) -> store::Result<Vec<Unarchived>> {
        unreachable!("not archived in these tests")
    }

    async fn claim_file(&mut self, _name: &str, _hour: i64, _ids: &[Uuid]) -> store::Result<u64> {
        unreachable!("not archived in these tests")
    }
}

const NOW: OffsetDateTime = datetime!(2026-12-03 10:10:00 UTC);

fn email() -> Email {
    Email::parse("shopper@example.com").expect("email")
}

fn line() -> OrderLine {
    OrderLine {
        product_id: Sku::parse("product-002").expect("sku"),
        name: "Mug".to_owned(),
        quantity: Quantity::new(2).expect("quantity"),
        unit_price_minor: 1_000,
    }
}

fn envelope(n: u128, message: impl Into<Message>, at: OffsetDateTime) -> Envelope {
    Envelope::build(Uuid::from_u128(1_000 + n), &message.into()).at(at)
}

/// Three orders: one completed in 40 s, one declined, one out of stock; with their replies.
fn stream() -> Vec<Envelope> {
    let placed_at = datetime!(2026-12-03 10:05:00 UTC);
    let done_at = datetime!(2026-12-03 10:05:40 UTC);
    let order = |n: u128| OrderId::new(Uuid::from_u128(n));
    let placed = |n: u128| OrderPlaced {
        order_id: order(n),
        customer_email: email(),
        items: vec![line()],
        total_minor: 2_000,
        currency: "EUR".to_owned(),
        payment_reference: "sha256:00".to_owned(),
        placed_at,
    };
    let cancelled = |n: u128, reason: &str| OrderCancelled {
        order_id: order(n),
        customer_email: email(),
        reason: reason.to_owned(),
        compensations: vec![],
        cancelled_at: done_at,
    };
    vec![
        envelope(1, placed(1), placed_at),
        envelope(
            2,
            PaymentSucceeded {
                order_id: order(1),
                payment_id: Uuid::from_u128(77),
                amount_minor: 2_000,
            },
            done_at,
        ),
        envelope(
            3,
            OrderCompleted {
                order_id: order(1),
                customer_email: email(),
                items: vec![line()],
                total_minor: 2_000,
                currency: "EUR".to_owned(),
                completed_at: done_at,
            },
            done_at,
        ),
        envelope(4, placed(2), placed_at),
        envelope(
            5,
            PaymentFailed {
                order_id: order(2),
                reason: "card declined".to_owned(),
            },
            done_at,
        ),
        envelope(6, cancelled(2, "payment failed: card declined"), done_at),
        envelope(7, placed(3), placed_at),
        envelope(
            8,
            StockInsufficient {
                order_id: order(3),
                product_id: Sku::parse("product-001").expect("sku"),
                requested: 500,
                available: 100,
            },
            placed_at,
        ),
        envelope(
            9,
            cancelled(
                3,
                "insufficient stock for product-001: requested 500, available 100",
            ),
            placed_at,
        ),
    ]
}

async fn handle_all(service: &AnalyticsService, envelopes: &[Envelope]) {
    for envelope in envelopes {
        service.handle(envelope).await.expect("handled");
    }
}

#[tokio::test]
async fn a_window_sums_orders_outcomes_revenue_and_payment_rates() {
    let store = MemoryStore::default();
    let service = AnalyticsService::new(Arc::new(store.clone()));
    handle_all(&service, &stream()).await;
    let summary = service
        .summary_at(AnalyticsWindow::FifteenMinutes, NOW)
        .await
        .expect("summary");
    assert_eq!(summary.orders_placed, 3);
    assert_eq!(summary.orders_completed, 1);
    assert_eq!(summary.orders_cancelled, 2);
    assert_eq!(summary.cancelled_by_reason.payment, 1);
    assert_eq!(summary.cancelled_by_reason.stock, 1);
    assert_eq!(summary.revenue.len(), 1);
    assert_eq!(summary.revenue[0].amount, "20.00");
    assert_eq!(summary.completion_time.orders, 1);
    assert_eq!(summary.completion_time.average_ms, Some(40_000));
    assert_eq!(summary.completion_time.p95_ms, Some(40_000));
    assert_eq!(summary.payments.decline_rate, Some(0.5));
    assert_eq!(summary.stock_outs, 1);
    let products = service
        .products_at(api::ProductsQuery::default(), NOW)
        .await
        .expect("products");
    assert_eq!(products.len(), 1);
    assert_eq!(products[0].units, 2);
    assert_eq!(products[0].revenue[0].amount_minor, 2_000);
}

#[tokio::test]
async fn a_replayed_stream_changes_nothing() {
    let store = MemoryStore::default();
    let service = AnalyticsService::new(Arc::new(store.clone()));
    handle_all(&service, &stream()).await;
    let once = store.state();
    handle_all(&service, &stream()).await;
    let again = store.state();
    assert_eq!(again.counters, once.counters);
    assert_eq!(again.orders, once.orders);
    assert_eq!(again.events, once.events);
}

#[tokio::test]
async fn events_in_reverse_or_batched_give_the_same_counters() {
    let in_order = MemoryStore::default();
    handle_all(
        &AnalyticsService::new(Arc::new(in_order.clone())),
        &stream(),
    )
    .await;

    let reversed = MemoryStore::default();
    let mut events = stream();
    events.reverse();
    handle_all(&AnalyticsService::new(Arc::new(reversed.clone())), &events).await;

    let batched = MemoryStore::default();
    let events = stream();
    let batch: Vec<&Envelope> = events.iter().rev().collect();
    let outcomes = AnalyticsService::new(Arc::new(batched.clone()))
        .handle_batch(&batch)
        .await;
    assert!(outcomes.iter().all(Result::is_ok));

    assert_eq!(reversed.state().counters, in_order.state().counters);
    assert_eq!(batched.state().counters, in_order.state().counters);
    assert_eq!(reversed.state().orders, in_order.state().orders);
}

#[tokio::test]
async fn a_message_that_cannot_be_read_is_rejected_not_acknowledged() {
    let service = AnalyticsService::new(Arc::new(MemoryStore::default()));
    let mut poison = stream().remove(0);
    poison.payload = serde_json::json!({"order_id": "not a uuid"});
    let outcome = service.handle(&poison).await;
    assert!(matches!(outcome, Err(transport::HandleError::Rejected(_))));
}

#[tokio::test]
async fn a_series_has_one_point_per_bucket_counted_in() {
    let service = AnalyticsService::new(Arc::new(MemoryStore::default()));
    handle_all(&service, &stream()).await;
    let series = service
        .series_at(
            api::SeriesQuery {
                metric: "orders_cancelled".to_owned(),
                ..api::SeriesQuery::default()
            },
            NOW,
        )
        .await
        .expect("series");
    let points: Vec<(String, i64)> = series
        .points
        .iter()
        .map(|p| (p.dimension.clone(), p.value))
        .collect();
    // Both in the 10:05 bucket, by dimension.
    assert_eq!(points, [("payment".to_owned(), 1), ("stock".to_owned(), 1)]);
    let unknown = service
        .series_at(
            api::SeriesQuery {
                metric: "nonsense".to_owned(),
                ..api::SeriesQuery::default()
            },
            NOW,
        )
        .await;
    assert!(matches!(
        unknown,
        Err(crate::Error::Invalid {
            field: "metric",
            ..
        })
    ));
    let too_long = service
        .series_at(
            api::SeriesQuery {
                metric: "orders_placed".to_owned(),
                bucket: Some(api::SeriesBucket::Minute),
                from: Some(NOW - time::Duration::DAY * 2),
                to: Some(NOW),
            },
            NOW,
        )
        .await;
    assert!(matches!(
        too_long,
        Err(crate::Error::Invalid { field: "from", .. })
    ));
}

#[tokio::test]
async fn what_the_service_counted_equals_a_fold_of_the_same_events() {
    let store = MemoryStore::default();
    let service = AnalyticsService::new(Arc::new(store.clone()));
    let mut events = stream();
    events.reverse();
    handle_all(&service, &events).await;
    handle_all(&service, &stream()).await;

    let mut fold = Aggregates::default();
    for envelope in stream() {
        fold.count(&envelope.decode().expect("an event"), envelope.occurred_at);
    }
    let counted = store.aggregates().await.expect("aggregates");
    assert_eq!(counted.differences(&fold, 10), Vec::<String>::new());
    assert_eq!(counted, fold);
}

#[tokio::test]
async fn a_batch_notes_its_orders_in_id_order_and_each_order_s_moments_as_they_came() {
    let store = MemoryStore::default();
    let service = AnalyticsService::new(Arc::new(store.clone()));
    // The stream backwards: the orders come in descending id order.
    let events: Vec<Envelope> = stream().into_iter().rev().collect();
    let batch: Vec<&Envelope> = events.iter().collect();
    let outcomes = service.handle_batch(&batch).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

    let noted = store.state().noted;
    assert!(
        noted.windows(2).all(|pair| pair[0].0 <= pair[1].0),
        "orders noted in id order, as two batches must lock them: {noted:?}"
    );
    for (order_id, _) in &noted {
        let as_noted: Vec<OrderMoment> = noted
            .iter()
            .filter(|(id, _)| id == order_id)
            .map(|(_, moment)| *moment)
            .collect();
        let as_came: Vec<OrderMoment> = events
            .iter()
            .filter(|envelope| envelope.correlation_id == order_id.as_uuid())
            .filter_map(|envelope| {
                moment(&envelope.decode().expect("decodes")).map(|(moment, _)| moment)
            })
            .collect();
        assert_eq!(
            as_noted, as_came,
            "order {order_id:?}'s moments as they came"
        );
    }
}
