//! Runs one saga decision against the store: load the order, decide, and write the new events,
//! the outgoing messages, the deadline and the inbox record in one transaction. A concurrent
//! append to the same order is a conflict: reload and decide again.

use std::collections::{BTreeMap, BTreeSet, btree_map};

use contracts::value::OrderId;
use contracts::{Envelope, Message};
use order_domain::saga::{self, Deadline, SagaDecision, SagaInput, SagaStep};
use order_domain::{Order, OrderError, OrderEvent, replay};
use time::OffsetDateTime;
use transport::HandleError;
use uuid::Uuid;

use crate::OrderService;
use store::order::{DeadlineChange, DecisionWrites, OrderTx};

/// How often a decision is retried when another writer appended to the same order first.
const CONFLICT_RETRIES: usize = 8;

/// Why a saga step could not run.
#[derive(Debug, thiserror::Error)]
pub enum SagaError {
    #[error("order {0} does not exist")]
    UnknownOrder(OrderId),
    #[error(transparent)]
    Rejected(#[from] OrderError),
    #[error("stored event cannot be read")]
    Corrupt(#[from] contracts::DecodeError),
    #[error("order {0} kept changing under concurrent writers")]
    Contended(OrderId),
    #[error("order {0} is to be charged, but its payment token is not kept any more")]
    PaymentTokenLost(OrderId),
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl From<SagaError> for HandleError {
    fn from(error: SagaError) -> Self {
        match error {
            SagaError::Store(store) => store.into(),
            SagaError::Contended(_) => HandleError::Unavailable(error.into()),
            other => HandleError::Rejected(other.into()),
        }
    }
}

/// What a saga step did.
#[derive(Debug)]
pub(crate) enum Outcome {
    Applied(Order),
    /// The causing message had been handled before: nothing was done.
    Duplicate,
}

impl OrderService {
    /// Loads an order with its stream version.
    pub(crate) async fn load(&self, order_id: OrderId) -> Result<Option<(Order, u64)>, SagaError> {
        Ok(self
            .load_traced(order_id)
            .await?
            .map(|(order, version, _)| (order, version)))
    }

    /// Like [`OrderService::load`], with the trace context of the order's last event: what
    /// a decision that no message caused (a deadline, a customer's cancel) continues, so an
    /// order stays one trace from its placing to its end.
    async fn load_traced(
        &self,
        order_id: OrderId,
    ) -> Result<Option<(Order, u64, Option<String>)>, SagaError> {
        let recorded = self.store.load(order_id).await?;
        let version = recorded.last().map_or(0, |event| event.version);
        let traceparent = recorded
            .last()
            .and_then(|event| event.envelope.traceparent.clone());
        let mut events = Vec::with_capacity(recorded.len());
        for event in recorded {
            if let Ok(event) = OrderEvent::try_from(event.envelope.decode()?) {
                events.push(event);
            }
        }
        Ok(replay(&events).map(|order| (order, version, traceparent)))
    }

    /// Feeds `input` to the saga of `order_id`, recording `cause` in the inbox.
    ///
    /// A reply (with a `cause`) is first decided on the order as this process last committed
    /// it, if it did ([`OrderCache`](super::order_cache::OrderCache)); when that decision would
    /// append nothing, is illegal, or meets a conflict, it is made again from the order as read.
    pub(crate) async fn run_saga(
        &self,
        order_id: OrderId,
        input: &SagaInput,
        cause: Option<&Envelope>,
    ) -> Result<Outcome, SagaError> {
        let mut cached = cause.and_then(|_| self.orders.take(order_id));
        for _ in 0..CONFLICT_RETRIES {
            let from_cache = cached.is_some();
            let (order, version, order_trace) = match cached.take() {
                Some((order, version)) => (order, version, None),
                None => self
                    .load_traced(order_id)
                    .await?
                    .ok_or(SagaError::UnknownOrder(order_id))?,
            };
            let decision = match saga::react(&order, input.clone(), OffsetDateTime::now_utc()) {
                Ok(decision) if from_cache && decision.events.is_empty() => continue,
                Err(_) if from_cache => continue,
                decision => decision?,
            };
            let mut tx = self.store.begin().await?;
            if let Some(cause) = cause
                && !tx.mark_handled(cause.message_id).await?
            {
                return Ok(Outcome::Duplicate);
            }
            let fired = match input {
                SagaInput::DeadlineExpired(step) => Some(*step),
                _ => None,
            };
            let new_events = decision.events.clone();
            match self
                .write(
                    &mut *tx,
                    (order_id, version),
                    decision,
                    (cause, order_trace.as_deref()),
                    fired,
                    None,
                )
                .await
            {
                Err(SagaError::Store(store::StoreError::Conflict)) => continue,
                result => result?,
            }
            match tx.commit().await {
                Err(store::StoreError::Conflict) => continue,
                result => result?,
            }
            record_step(&order, input);
            let order = self
                .committed(Some(order), &new_events)
                .ok_or(SagaError::UnknownOrder(order_id))?;
            self.orders
                .put(order.clone(), version + new_events.len() as u64);
            return Ok(Outcome::Applied(order));
        }
        Err(SagaError::Contended(order_id))
    }

    /// Feeds each reply of `inputs` to its order's saga, all in one transaction: orders in id
    /// order, so that two batches never wait for each other's rows in opposite orders, and
    /// each order's replies in the order they came. The orders are taken as last committed
    /// here (taken out of the cache), or read before the transaction begins, as for a single
    /// reply, so it never holds one connection while waiting for another. The first failure
    /// is returned, and then nothing was kept; a decision on a cached order that would append
    /// nothing is a failure too, so that the replies are handled one by one, from the orders
    /// as read.
    pub(crate) async fn run_sagas_together(
        &self,
        mut inputs: Vec<(SagaInput, &Envelope)>,
    ) -> Result<(), HandleError> {
        if inputs.is_empty() {
            return Ok(());
        }
        inputs.sort_by_key(|(_, cause)| cause.correlation_id);
        // Each order as read, then as this transaction leaves it, with its stream version.
        let mut orders: BTreeMap<OrderId, (Order, u64)> = BTreeMap::new();
        let mut cached = BTreeSet::new();
        for (_, cause) in &inputs {
            let order_id = OrderId::new(cause.correlation_id);
            if let btree_map::Entry::Vacant(entry) = orders.entry(order_id) {
                let loaded = match self.orders.take(order_id) {
                    Some(order) => {
                        cached.insert(order_id);
                        order
                    }
                    None => self
                        .load(order_id)
                        .await?
                        .ok_or(SagaError::UnknownOrder(order_id))?,
                };
                entry.insert(loaded);
            }
        }
        self.decide_together(inputs, &mut orders, &cached).await
    }

    async fn decide_together(
        &self,
        inputs: Vec<(SagaInput, &Envelope)>,
        orders: &mut BTreeMap<OrderId, (Order, u64)>,
        cached: &BTreeSet<OrderId>,
    ) -> Result<(), HandleError> {
        let mut tx = self.store.begin().await?;
        let mut applied = Vec::with_capacity(inputs.len());
        for (input, cause) in inputs {
            if !tx.mark_handled(cause.message_id).await? {
                continue;
            }
            let order_id = OrderId::new(cause.correlation_id);
            let (order, version) = orders
                .get_mut(&order_id)
                .ok_or(SagaError::UnknownOrder(order_id))?;
            let decision = saga::react(order, input.clone(), OffsetDateTime::now_utc())
                .map_err(SagaError::from)?;
            if decision.events.is_empty() && cached.contains(&order_id) {
                return Err(HandleError::Unavailable(anyhow::anyhow!(
                    "a reply to order {order_id} changes nothing: decided on its own"
                )));
            }
            let new_events = decision.events.clone();
            self.write(
                &mut *tx,
                (order_id, *version),
                decision,
                (Some(cause), None),
                None,
                None,
            )
            .await?;
            let before = order.clone();
            *order = new_events
                .iter()
                .try_fold(before.clone(), |state, event| {
                    order_domain::evolve(Some(state), event)
                })
                .ok_or(SagaError::UnknownOrder(order_id))?;
            *version += new_events.len() as u64;
            applied.push((before, input, new_events));
        }
        tx.commit().await?;
        for (before, input, events) in applied {
            record_step(&before, &input);
            self.committed(Some(before), &events);
        }
        for (order, version) in orders.values() {
            self.orders.put(order.clone(), *version);
        }
        Ok(())
    }

    /// Writes a decision into `tx`: events appended at `expected_version` and published,
    /// commands sent, the deadline updated, and `keep_token` kept as the order's payment
    /// token (when it is placed). The messages are caused by `cause`, or, when none did,
    /// carry the `traceparent` given beside it. `fired` is the deadline that triggered it,
    /// if any.
    pub(crate) async fn write(
        &self,
        tx: &mut dyn OrderTx,
        (order_id, expected_version): (OrderId, u64),
        decision: SagaDecision,
        (cause, traceparent): (Option<&Envelope>, Option<&str>),
        fired: Option<SagaStep>,
        keep_token: Option<&str>,
    ) -> Result<(), SagaError> {
        let now = OffsetDateTime::now_utc();
        let envelope = |message: Message| {
            let builder = Envelope::build(Uuid::now_v7(), &message);
            match cause {
                Some(cause) => builder.caused_by(cause).at(now),
                None => builder.traceparent(traceparent.map(str::to_owned)).at(now),
            }
        };
        let ended = decision
            .events
            .iter()
            .any(|event| matches!(event, OrderEvent::Completed(_) | OrderEvent::Cancelled(_)));
        let events: Vec<Envelope> = decision
            .events
            .into_iter()
            .map(|e| envelope(e.into()))
            .collect();
        if !events.is_empty() {
            tx.append(order_id, expected_version, &events).await?;
        }
        let mut outgoing = events;
        for command in decision.commands {
            let message = match command.into_message() {
                Ok(message) => message,
                Err(charge) => {
                    let token = self.payment_token(tx, order_id).await?;
                    charge.with_token(token).into()
                }
            };
            outgoing.push(envelope(message));
        }
        if ended {
            // An order that ends before its charge has no use for its token any more.
            tx.take_payment_token(order_id).await?;
        }
        let deadline = match decision.deadline {
            Deadline::Keep => DeadlineChange::Keep,
            Deadline::Set(step) => DeadlineChange::Set {
                step,
                after: self.deadline(step),
            },
            Deadline::Clear => DeadlineChange::Clear { only: fired },
        };
        let writes = DecisionWrites {
            outgoing: &outgoing,
            keep_token,
            deadline,
        };
        tx.follow_decision(order_id, &writes).await?;
        Ok(())
    }

    /// The payment token of the order's charge, taken out of keeping. An order placed before
    /// tokens were kept apart (`order.placed` version 2) still has its token in its stored
    /// event, which is read as stored, never shown.
    async fn payment_token(
        &self,
        tx: &mut dyn OrderTx,
        order_id: OrderId,
    ) -> Result<String, SagaError> {
        if let Some(token) = tx.take_payment_token(order_id).await? {
            return Ok(token);
        }
        let stored = self.store.load(order_id).await?;
        stored
            .iter()
            .map(|event| &event.envelope)
            .find(|envelope| envelope.message_type == "order.placed" && envelope.schema_version < 3)
            .and_then(|placed| placed.payload.get("payment_token")?.as_str())
            .map(str::to_owned)
            .ok_or(SagaError::PaymentTokenLost(order_id))
    }

    fn deadline(&self, step: SagaStep) -> std::time::Duration {
        match step {
            SagaStep::AwaitingStock => self.deadlines.stock,
            SagaStep::AwaitingPayment => self.deadlines.payment,
        }
    }
}

/// Counts how long the saga step `input` ends took, from the order's last change (when the
/// step's command was sent) to now: `orderflow_saga_step_seconds{step, outcome}`.
fn record_step(before: &Order, input: &SagaInput) {
    let (step, outcome) = match input {
        SagaInput::StockReserved => ("stock", "reserved"),
        SagaInput::StockInsufficient { .. } => ("stock", "insufficient"),
        SagaInput::PaymentSucceeded { .. } => ("payment", "succeeded"),
        SagaInput::PaymentFailed { .. } => ("payment", "failed"),
        SagaInput::DeadlineExpired(step) => (
            match step {
                SagaStep::AwaitingStock => "stock",
                SagaStep::AwaitingPayment => "payment",
            },
            "deadline",
        ),
        SagaInput::CancelRequested => return,
    };
    let took = OffsetDateTime::now_utc() - before.updated_at;
    metrics::histogram!("orderflow_saga_step_seconds", "step" => step, "outcome" => outcome)
        .record(took.as_seconds_f64().max(0.0));
}
