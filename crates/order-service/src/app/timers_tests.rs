//! The deadline timer's pace, on a paused clock. Whether a deadline is due is the database's
//! business (its clock); how often the timer asks, how soon it asks again, and by how much it
//! pushes deadlines back after its process was down, is the timer's. The store is a fake that
//! answers from a script and notes the (virtual) time of each look and each postponement.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use order_domain::saga::SagaStep;
use store::order::{
    DueDeadline, IdempotencyKey, IdempotentRequest, OrderStore, OrderTx, Product, RecordedEvent,
};
use store::{StoreError, UnitOfWork};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use transport::Outages;
use uuid::Uuid;

use crate::{OrderService, SagaDeadlines, run_deadline_timer};

/// The deadlines cleared, each with the only step it was cleared for.
type Cleared = Arc<Mutex<Vec<(OrderId, Option<SagaStep>)>>>;

/// What one look for due deadlines finds.
enum Look {
    Due(DueDeadline),
    Unreadable,
}

/// A store that knows no order and answers the timer's looks from a script (then finds
/// nothing due), noting when each look came, which deadlines were cleared, and each
/// postponement (as the number of looks before it, and by how much).
#[derive(Default)]
struct ScriptedDeadlines {
    script: Mutex<VecDeque<Look>>,
    looks: Mutex<Vec<Instant>>,
    cleared: Cleared,
    postponed: Mutex<Vec<(usize, Duration)>>,
}

impl ScriptedDeadlines {
    fn new(script: impl IntoIterator<Item = Look>) -> Self {
        Self {
            script: Mutex::new(script.into_iter().collect()),
            ..Self::default()
        }
    }

    /// The time from the first look to each of the others.
    fn looks_after_the_first(&self) -> Vec<Duration> {
        let looks = self.looks.lock().expect("looks");
        looks.iter().skip(1).map(|at| *at - looks[0]).collect()
    }
}

#[async_trait]
impl OrderStore for ScriptedDeadlines {
    async fn begin(&self) -> store::Result<Box<dyn OrderTx>> {
        Ok(Box::new(ClearingTx {
            cleared: self.cleared.clone(),
        }))
    }

    async fn load(&self, _order_id: OrderId) -> store::Result<Vec<RecordedEvent>> {
        Ok(Vec::new())
    }

    async fn products(&self) -> store::Result<Vec<Product>> {
        unreachable!("the timer does not read the catalog")
    }

    async fn due_deadlines(&self, _max: usize) -> store::Result<Vec<DueDeadline>> {
        self.looks.lock().expect("looks").push(Instant::now());
        match self.script.lock().expect("script").pop_front() {
            None => Ok(Vec::new()),
            Some(Look::Due(deadline)) => Ok(vec![deadline]),
            Some(Look::Unreadable) => Err(StoreError::Unavailable(anyhow::anyhow!("locked"))),
        }
    }

    async fn postpone_deadlines(&self, by: Duration) -> store::Result<u64> {
        let looks = self.looks.lock().expect("looks").len();
        self.postponed.lock().expect("postponed").push((looks, by));
        Ok(1)
    }

    async fn orders_in_flight(&self) -> store::Result<u64> {
        unreachable!("the timer does not count orders")
    }

    async fn idempotent_request(
        &self,
        _key: &IdempotencyKey,
        _ttl: Duration,
    ) -> store::Result<Option<IdempotentRequest>> {
        unreachable!("the timer places no order")
    }

    async fn purge_idempotency_keys(&self, _ttl: Duration) -> store::Result<u64> {
        unreachable!("the timer purges no key")
    }
}

/// A transaction that can only clear deadlines.
struct ClearingTx {
    cleared: Cleared,
}

#[async_trait]
impl UnitOfWork for ClearingTx {
    async fn mark_handled(&mut self, _message_id: Uuid) -> store::Result<bool> {
        unreachable!("a deadline has no message to record")
    }

    async fn enqueue(&mut self, _envelope: &Envelope) -> store::Result<()> {
        unreachable!("a deadline of an unknown order sends nothing")
    }

    async fn commit(self: Box<Self>) -> store::Result<()> {
        Ok(())
    }
}

#[async_trait]
impl OrderTx for ClearingTx {
    async fn append(
        &mut self,
        _id: OrderId,
        _version: u64,
        _events: &[Envelope],
    ) -> store::Result<()> {
        unreachable!("a deadline of an unknown order appends nothing")
    }

    async fn set_deadline(
        &mut self,
        _id: OrderId,
        _step: SagaStep,
        _after: Duration,
    ) -> store::Result<()> {
        unreachable!("a deadline of an unknown order sets none")
    }

    async fn clear_deadline(
        &mut self,
        order_id: OrderId,
        only: Option<SagaStep>,
    ) -> store::Result<()> {
        self.cleared.lock().expect("cleared").push((order_id, only));
        Ok(())
    }

    async fn remember_request(
        &mut self,
        _key: &IdempotencyKey,
        _request: &IdempotentRequest,
        _ttl: Duration,
    ) -> store::Result<()> {
        unreachable!("the timer places no order")
    }

    async fn keep_payment_token(&mut self, _id: OrderId, _token: &str) -> store::Result<()> {
        unreachable!("the timer places no order")
    }

    async fn take_payment_token(&mut self, _id: OrderId) -> store::Result<Option<String>> {
        unreachable!("a deadline of an unknown order charges nothing")
    }

    async fn upsert_product(&mut self, _product: &Product) -> store::Result<()> {
        unreachable!("the timer does not change the catalog")
    }
}

/// Runs the deadline timer on `store` for `duration` of virtual time, then stops it.
async fn run_timer_for(store: &Arc<ScriptedDeadlines>, duration: Duration) {
    run_timer_with(store, Outages::new(), duration).await;
}

/// [`run_timer_for`] in a process whose other workers report to `outages`.
async fn run_timer_with(store: &Arc<ScriptedDeadlines>, outages: Arc<Outages>, duration: Duration) {
    let service = Arc::new(OrderService::new(store.clone(), SagaDeadlines::default()));
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(run_deadline_timer(service, outages, shutdown.clone()));
    tokio::time::sleep(duration).await;
    shutdown.cancel();
    task.await.expect("the timer ends");
}

fn ms(millis: &[u64]) -> Vec<Duration> {
    millis.iter().copied().map(Duration::from_millis).collect()
}

#[tokio::test(start_paused = true)]
async fn with_nothing_due_the_timer_looks_every_200_ms() {
    let store = Arc::new(ScriptedDeadlines::new([]));

    run_timer_for(&store, Duration::from_millis(700)).await;

    assert_eq!(store.looks_after_the_first(), ms(&[200, 400, 600]));
}

#[tokio::test(start_paused = true)]
async fn after_firing_a_batch_the_timer_looks_again_at_once() {
    let order_id = OrderId::new(Uuid::now_v7());
    let deadline = DueDeadline {
        order_id,
        step: SagaStep::AwaitingPayment,
    };
    let store = Arc::new(ScriptedDeadlines::new([Look::Due(deadline)]));

    run_timer_for(&store, Duration::from_millis(300)).await;

    assert_eq!(store.looks_after_the_first(), ms(&[0, 200]));
    let cleared = store.cleared.lock().expect("cleared").clone();
    assert_eq!(
        cleared,
        [(order_id, Some(SagaStep::AwaitingPayment))],
        "a deadline that cannot fire (its order is unknown) is dropped, for its own step only"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unreadable_deadline_table_is_tried_again_at_the_same_pace() {
    let store = Arc::new(ScriptedDeadlines::new([Look::Unreadable, Look::Unreadable]));

    run_timer_for(&store, Duration::from_millis(500)).await;

    assert_eq!(store.looks_after_the_first(), ms(&[200, 400]));
}

#[tokio::test(start_paused = true)]
async fn a_timer_stopped_between_looks_stops_at_once() {
    let store = Arc::new(ScriptedDeadlines::new([]));
    let started = Instant::now();

    run_timer_for(&store, Duration::from_millis(50)).await;

    assert_eq!(started.elapsed(), Duration::from_millis(50));
    assert_eq!(store.looks_after_the_first(), ms(&[]));
}

fn due(order_id: OrderId) -> Look {
    Look::Due(DueDeadline {
        order_id,
        step: SagaStep::AwaitingStock,
    })
}

#[tokio::test(start_paused = true)]
async fn after_its_database_was_unreachable_the_timer_pushes_deadlines_back_by_the_outage_first() {
    let (seen_before, seen_after) = (OrderId::new(Uuid::now_v7()), OrderId::new(Uuid::now_v7()));
    let mut script: Vec<Look> = (0..10).map(|_| Look::Unreadable).collect();
    script.extend([due(seen_before), due(seen_after)]);
    let store = Arc::new(ScriptedDeadlines::new(script));

    run_timer_for(&store, Duration::from_secs(3)).await;

    assert_eq!(
        *store.postponed.lock().expect("postponed"),
        [(11, Duration::from_secs(2))],
        "ten failed looks 200 ms apart, then the first that worked: postponed by 2 s, at once"
    );
    let cleared = store.cleared.lock().expect("cleared").clone();
    assert_eq!(
        cleared,
        [(seen_after, Some(SagaStep::AwaitingStock))],
        "only what is due after the postponement fires"
    );
}

#[tokio::test(start_paused = true)]
async fn while_its_relay_cannot_publish_the_timer_fires_nothing_then_postpones_by_that_outage() {
    let order_id = OrderId::new(Uuid::now_v7());
    let store = Arc::new(ScriptedDeadlines::new((0..8).map(|_| due(order_id))));
    let outages = Outages::new();
    let relay = outages.reporter();
    relay.down(Instant::now());
    let recovering = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        relay.up();
    });

    run_timer_with(&store, outages, Duration::from_millis(1_300)).await;
    recovering.await.expect("relay");

    assert_eq!(
        *store.postponed.lock().expect("postponed"),
        [(7, Duration::from_millis(1_100))],
        "six looks fired nothing; the seventh, after the relay was back, postponed first"
    );
    assert_eq!(
        store.cleared.lock().expect("cleared").len(),
        1,
        "then fired what was due"
    );
}

#[tokio::test(start_paused = true)]
async fn a_short_outage_is_kept_until_it_adds_up_to_half_a_second() {
    let store = Arc::new(ScriptedDeadlines::new([Look::Unreadable, Look::Unreadable]));

    run_timer_for(&store, Duration::from_millis(500)).await;

    assert!(
        store.postponed.lock().expect("postponed").is_empty(),
        "400 ms of outage: no deadline rewritten yet"
    );
}
