//! One seeded order's life, played without I/O: the saga's own decisions (`order_domain::saga`),
//! each message routed to the queues that subscribe to it (`contracts::subscribers`), and each
//! service's handling of it written down as the calls it makes on its store port. What the
//! writer then replays through the ports is what the services would have written, minus what
//! they write and delete again in passing (outbox rows, queue rows, deadlines, kept payment
//! tokens).

use std::collections::{BTreeMap, VecDeque};

use anyhow::Context as _;
use contracts::value::{Email, OrderId, Quantity, Sku};
use contracts::{
    Envelope, Message, PaymentFailed, PaymentSucceeded, Queue, StockInsufficient, StockLine,
    StockReleased, StockReserved,
};
use order_domain::saga::{self, SagaDecision, SagaInput};
use order_domain::{Order, OrderCommand, OrderEvent, OrderStatus, PricedLine, evolve};
use payment_domain::{Payment, PaymentStatus};
use query_domain::OrderView;
use store::notification::Notification;
use time::{Duration, OffsetDateTime};
use uuid::{NoContext, Timestamp, Uuid};

/// What the simulated gateway answers a declined card with.
const DECLINED_REASON: &str = "card declined";

/// How long each hop of a seeded saga takes: relay, queue and handler.
const HOP: Duration = Duration::milliseconds(4);

/// An order to seed, as a customer placed it.
#[derive(Clone, Debug)]
pub(crate) struct OrderSpec {
    pub(crate) placed_at: OffsetDateTime,
    pub(crate) customer_email: Email,
    pub(crate) lines: Vec<PricedLine>,
    pub(crate) payment_token: &'static str,
}

/// A call on the order service's store.
#[derive(Debug)]
pub(crate) enum OrderWrite {
    Handled(Uuid),
    Append {
        order_id: OrderId,
        expected_version: u64,
        events: Vec<Envelope>,
    },
}

/// A call on the inventory service's store.
#[derive(Debug)]
pub(crate) enum InventoryWrite {
    /// An operator's restock, before the order that needs it.
    Restock(Sku, i64),
    Handled(Uuid),
    Reserve(OrderId, Vec<StockLine>),
    Commit(OrderId),
    Release(OrderId),
}

/// A call on the payment service's store.
#[derive(Debug)]
pub(crate) enum PaymentWrite {
    Pending(Payment),
    Handled(Uuid),
    Status(OrderId, PaymentStatus, Option<String>),
}

/// One order's writes, per service, in the order the services make them.
#[derive(Debug, Default)]
pub(crate) struct SeededOrder {
    pub(crate) order: Vec<OrderWrite>,
    pub(crate) inventory: Vec<InventoryWrite>,
    pub(crate) payment: Vec<PaymentWrite>,
    /// Messages the notification service handled, with the email each sent.
    pub(crate) notifications: Vec<Notification>,
    /// Events the query service kept (each also its inbox record).
    pub(crate) kept_events: Vec<Envelope>,
    /// The view folded from them.
    pub(crate) view: Option<OrderView>,
    pub(crate) status: Option<OrderStatus>,
}

/// The stock the inventory service holds while seeding, by sku: what the seed restocks from.
#[derive(Debug)]
pub(crate) struct StockModel {
    available: BTreeMap<Sku, i64>,
    /// What each product had when seeding began: the restock unit, and the level restored at
    /// the end.
    start: BTreeMap<Sku, i64>,
}

impl StockModel {
    pub(crate) fn new(levels: impl IntoIterator<Item = (Sku, i64)>) -> Self {
        let available: BTreeMap<Sku, i64> = levels.into_iter().collect();
        Self {
            start: available.clone(),
            available,
        }
    }

    /// What brings every product back to its level before seeding, as restocks.
    pub(crate) fn top_ups(&self) -> Vec<(Sku, i64)> {
        (self.start.iter())
            .filter_map(|(sku, start)| {
                let short = start - self.available.get(sku).copied().unwrap_or(0);
                (short > 0).then(|| (sku.clone(), short))
            })
            .collect()
    }

    /// Restocks each product of `lines` that could not serve its line, by its starting level
    /// (at least a hundred units) on top of what it lacks.
    fn restock_for(&mut self, lines: &[StockLine]) -> Vec<(Sku, i64)> {
        let mut restocks = Vec::new();
        for line in lines {
            let wanted = i64::from(line.quantity.get());
            let available = self.available.entry(line.product_id.clone()).or_insert(0);
            if *available < wanted {
                let unit = self.start.get(&line.product_id).copied().unwrap_or(0);
                let delta = wanted - *available + unit.max(100);
                *available += delta;
                restocks.push((line.product_id.clone(), delta));
            }
        }
        restocks
    }

    /// The first line that cannot be served, as the inventory adapter reports it.
    fn shortage(&self, lines: &[StockLine]) -> Option<(Sku, u32, u32)> {
        lines.iter().find_map(|line| {
            let available = self.available.get(&line.product_id).copied().unwrap_or(0);
            (available < i64::from(line.quantity.get())).then(|| {
                let shown = u32::try_from(available).unwrap_or(u32::MAX);
                (line.product_id.clone(), line.quantity.get(), shown)
            })
        })
    }

    fn take(&mut self, lines: &[StockLine]) {
        for line in lines {
            *self.available.entry(line.product_id.clone()).or_insert(0) -=
                i64::from(line.quantity.get());
        }
    }

    fn give_back(&mut self, lines: &[StockLine]) {
        for line in lines {
            *self.available.entry(line.product_id.clone()).or_insert(0) +=
                i64::from(line.quantity.get());
        }
    }
}

/// Plays `spec` to its end. An order asking for more than a product can ever hold (a full
/// [`Quantity::MAX`] line) is refused for its stock; for any other, the seed restocks first.
///
/// # Errors
/// When the saga rejects a step, which would be a bug of the seed.
pub(crate) fn simulate(spec: &OrderSpec, stock: &mut StockModel) -> anyhow::Result<SeededOrder> {
    let order_id = OrderId::new(message_id(spec.placed_at));
    let mut life = Life {
        order_id,
        clock: spec.placed_at,
        order: None,
        version: 0,
        payment_token: spec.payment_token,
        held: Vec::new(),
        seeded: SeededOrder::default(),
        stock,
    };
    let decision = saga::start(OrderCommand::Place {
        order_id,
        customer_email: spec.customer_email.clone(),
        lines: spec.lines.clone(),
        payment_reference: contracts::payment_reference(order_id, spec.payment_token),
        at: spec.placed_at,
    })
    .context("place a seeded order")?;
    let mut in_flight: VecDeque<Envelope> = life.order_decided(decision, None)?.into();
    while let Some(envelope) = in_flight.pop_front() {
        life.clock += HOP;
        for queue in contracts::subscribers(&envelope.message_type) {
            let message = envelope.decode().context("read a seeded message")?;
            let replies = match queue {
                Queue::Order => life.order_handles(&envelope, message)?,
                Queue::Inventory => life.inventory_handles(&envelope, &message),
                Queue::Payment => life.payment_handles(&envelope, &message),
                Queue::Notification => life.notification_handles(&envelope, &message),
                Queue::Query => life.query_keeps(&envelope),
                // Not seeded: analytics counts what the stream delivered, and seeded orders
                // are history written around it (their aggregates would be in the past).
                Queue::Analytics => Vec::new(),
            };
            in_flight.extend(replies);
        }
    }
    let mut seeded = life.seeded;
    seeded.view = query_domain::project(&seeded.kept_events).context("fold a seeded view")?;
    seeded.status = life.order.map(|order| order.status);
    Ok(seeded)
}

/// A message id drawn as the services draw theirs (UUID v7), at the time the message occurs.
fn message_id(at: OffsetDateTime) -> Uuid {
    let nanos = at.unix_timestamp_nanos();
    let seconds = u64::try_from(nanos.div_euclid(1_000_000_000)).unwrap_or(0);
    let subsec = u32::try_from(nanos.rem_euclid(1_000_000_000)).unwrap_or(0);
    Uuid::new_v7(Timestamp::from_unix(NoContext, seconds, subsec))
}

struct Life<'a> {
    order_id: OrderId,
    clock: OffsetDateTime,
    order: Option<Order>,
    version: u64,
    payment_token: &'static str,
    /// The lines the inventory service holds for the order.
    held: Vec<StockLine>,
    seeded: SeededOrder,
    stock: &'a mut StockModel,
}

impl Life<'_> {
    fn envelope(&self, message: &Message, cause: Option<&Envelope>) -> Envelope {
        let builder = Envelope::build(message_id(self.clock), message);
        match cause {
            Some(cause) => builder.caused_by(cause).at(self.clock),
            None => builder.at(self.clock),
        }
    }

    /// As the order service's `write`: the events appended and published, the commands sent.
    fn order_decided(
        &mut self,
        decision: SagaDecision,
        cause: Option<&Envelope>,
    ) -> anyhow::Result<Vec<Envelope>> {
        let mut outgoing = Vec::new();
        for event in &decision.events {
            self.order = evolve(self.order.take(), event);
        }
        let events: Vec<Envelope> = (decision.events.into_iter())
            .map(|event| self.envelope(&event.into(), cause))
            .collect();
        if !events.is_empty() {
            self.seeded.order.push(OrderWrite::Append {
                order_id: self.order_id,
                expected_version: self.version,
                events: events.clone(),
            });
            self.version += events.len() as u64;
        }
        outgoing.extend(events);
        for command in decision.commands {
            let message = match command.into_message() {
                Ok(message) => message,
                Err(charge) => charge.with_token(self.payment_token.to_owned()).into(),
            };
            outgoing.push(self.envelope(&message, cause));
        }
        Ok(outgoing)
    }

    /// As the order service's consumer: a reply drives the saga.
    fn order_handles(
        &mut self,
        envelope: &Envelope,
        message: Message,
    ) -> anyhow::Result<Vec<Envelope>> {
        // Confirmations of compensations: the service records nothing for them.
        let Some(input) = SagaInput::from_reply(message) else {
            return Ok(Vec::new());
        };
        let order = self.order.as_ref().context("a reply before its order")?;
        let decision = saga::react(order, input, self.clock).context("a seeded saga step")?;
        self.seeded
            .order
            .push(OrderWrite::Handled(envelope.message_id));
        self.order_decided(decision, Some(envelope))
    }

    /// As the inventory service: reserve all or nothing, release, sell on completion.
    fn inventory_handles(&mut self, envelope: &Envelope, message: &Message) -> Vec<Envelope> {
        let order_id = self.order_id;
        let writes = &mut self.seeded.inventory;
        let reply: Message = match message {
            Message::ReserveStock(command) => {
                let lines = &command.items;
                let within_reach = (lines.iter()).all(|line| line.quantity.get() < Quantity::MAX);
                if within_reach {
                    for (sku, delta) in self.stock.restock_for(lines) {
                        writes.push(InventoryWrite::Restock(sku, delta));
                    }
                }
                writes.push(InventoryWrite::Handled(envelope.message_id));
                match self.stock.shortage(lines) {
                    Some((product_id, requested, available)) => StockInsufficient {
                        order_id,
                        product_id,
                        requested,
                        available,
                    }
                    .into(),
                    None => {
                        self.stock.take(lines);
                        self.held.clone_from(lines);
                        writes.push(InventoryWrite::Reserve(order_id, lines.clone()));
                        StockReserved { order_id }.into()
                    }
                }
            }
            Message::ReleaseStock(_) => {
                writes.push(InventoryWrite::Handled(envelope.message_id));
                writes.push(InventoryWrite::Release(order_id));
                self.stock.give_back(&std::mem::take(&mut self.held));
                StockReleased { order_id }.into()
            }
            Message::OrderCompleted(_) => {
                writes.push(InventoryWrite::Handled(envelope.message_id));
                writes.push(InventoryWrite::Commit(order_id));
                self.held.clear();
                return Vec::new();
            }
            _ => return Vec::new(),
        };
        vec![self.envelope(&reply, Some(envelope))]
    }

    /// As the payment service with the simulated gateway: pending first, then the answer.
    fn payment_handles(&mut self, envelope: &Envelope, message: &Message) -> Vec<Envelope> {
        let Message::ChargePayment(charge) = message else {
            return Vec::new();
        };
        let payment = Payment {
            payment_id: message_id(self.clock),
            order_id: charge.order_id,
            amount: charge.amount(),
            status: PaymentStatus::Pending,
            failure_reason: None,
        };
        let writes = &mut self.seeded.payment;
        writes.push(PaymentWrite::Pending(payment.clone()));
        writes.push(PaymentWrite::Handled(envelope.message_id));
        let reply: Message = if charge.payment_token == payment_service::DECLINED_TOKEN {
            let reason = DECLINED_REASON.to_owned();
            writes.push(PaymentWrite::Status(
                charge.order_id,
                PaymentStatus::Failed,
                Some(reason.clone()),
            ));
            PaymentFailed {
                order_id: charge.order_id,
                reason,
            }
            .into()
        } else {
            writes.push(PaymentWrite::Status(
                charge.order_id,
                PaymentStatus::Succeeded,
                None,
            ));
            PaymentSucceeded {
                order_id: charge.order_id,
                payment_id: payment.payment_id,
                amount_minor: payment.amount.minor(),
            }
            .into()
        };
        vec![self.envelope(&reply, Some(envelope))]
    }

    /// As the notification service: one email per completion or cancellation.
    fn notification_handles(&mut self, envelope: &Envelope, message: &Message) -> Vec<Envelope> {
        let sent_at =
            (self.clock.replace_millisecond(self.clock.millisecond())).unwrap_or(self.clock);
        if let Some(notification) =
            notification_service::notification_for(envelope, message, sent_at)
        {
            self.seeded.notifications.push(notification);
        }
        Vec::new()
    }

    /// As the query service: every order event kept, the view folded from them.
    fn query_keeps(&mut self, envelope: &Envelope) -> Vec<Envelope> {
        let is_order_event =
            (envelope.decode().ok()).is_some_and(|message| OrderEvent::try_from(message).is_ok());
        if is_order_event {
            self.seeded.kept_events.push(envelope.clone());
        }
        Vec::new()
    }
}
