//! What the checks compare, read from the audit ports: each order's state folded from its
//! stream, the read model's view of it (checked against a fresh fold as each page is read),
//! deadlines, stock, reservations, payments and dead letters.
//!
//! Streams and the read model are read a page at a time, and only a few facts per order are
//! kept, so that a large event store does not have to fit in memory at once.

use std::collections::{BTreeMap, HashMap, HashSet};

use inventory_domain::ReservationStatus;
use order_domain::{OrderEvent, OrderStatus, replay};
use payment_domain::Payment;
use store::audit::{AuditedStream, PendingDeadline, ReadModelEntry, StockCounters};
use time::Duration;
use transport::DeadLetter;
use uuid::Uuid;

use crate::report::{Kind, Violation};
use crate::{Error, Sources};

/// What the event store says of one order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderFacts {
    pub(crate) status: OrderStatus,
    /// How long ago its last event was recorded.
    pub(crate) quiet_for: Duration,
    /// The payments its `order.paid` events name.
    pub(crate) paid_with: Vec<Uuid>,
}

/// Everything the checks compare, by order where it is about orders.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    pub(crate) orders: BTreeMap<Uuid, OrderFacts>,
    /// Orders whose stream cannot be folded: reported once, and left out of other checks.
    pub(crate) unreadable: HashSet<Uuid>,
    pub(crate) deadlines: HashMap<Uuid, PendingDeadline>,
    pub(crate) stock: Vec<StockCounters>,
    pub(crate) reservations: BTreeMap<Uuid, ReservationStatus>,
    pub(crate) payments: Vec<Payment>,
    /// The status of each order's saved view; `None` for an order the read model knows
    /// without a view.
    pub(crate) views: HashMap<Uuid, Option<String>>,
    pub(crate) dead_letters: Option<Vec<DeadLetter>>,
}

pub(crate) fn order_subject(order_id: Uuid) -> String {
    format!("order {order_id}")
}

/// The order a stream folds to, or why it cannot be folded.
pub(crate) fn order_facts(stream: &AuditedStream) -> Result<OrderFacts, Violation> {
    let unreadable = |detail: String| {
        Violation::new(
            Kind::OrderUnreadable,
            order_subject(stream.order_id),
            detail,
        )
    };
    let mut events = Vec::with_capacity(stream.events.len());
    let mut paid_with = Vec::new();
    for recorded in &stream.events {
        let message = recorded.envelope.decode().map_err(|error| {
            unreadable(format!(
                "event {} ({}) cannot be decoded: {error}",
                recorded.version, recorded.envelope.message_type
            ))
        })?;
        if let Ok(event) = OrderEvent::try_from(message) {
            if let OrderEvent::Paid(paid) = &event {
                paid_with.push(paid.payment_id);
            }
            events.push(event);
        }
    }
    let order =
        replay(&events).ok_or_else(|| unreadable("its stream has no order.placed".to_owned()))?;
    Ok(OrderFacts {
        status: order.status,
        quiet_for: stream.quiet_for,
        paid_with,
    })
}

/// The saved view's status, and a violation when the view is not the fold of the kept events.
pub(crate) fn read_model_facts(entry: &ReadModelEntry) -> (Option<String>, Option<Violation>) {
    let status = entry.view.as_ref().map(|view| view.status.clone());
    let differs = |detail: String| {
        Some(Violation::new(
            Kind::ViewDiffersFromFold,
            order_subject(entry.order_id),
            detail,
        ))
    };
    let fold = match query_domain::project(&entry.events) {
        Ok(fold) => fold,
        Err(error) => {
            return (
                status,
                differs(format!("its kept events cannot be folded: {error}")),
            );
        }
    };
    let violation = match (&entry.view, &fold) {
        (saved, folded) if saved == folded => None,
        (Some(saved), None) => differs(format!(
            "a {} view is saved but its kept events fold to none",
            saved.status
        )),
        (None, Some(folded)) => differs(format!(
            "no view is saved but its kept events fold to a {} one",
            folded.status
        )),
        (Some(saved), Some(folded)) if saved.status != folded.status => differs(format!(
            "the saved view is {} but its kept events fold to {}",
            saved.status, folded.status
        )),
        (Some(saved), Some(folded)) => differs(format!(
            "the saved {} view differs from the fold of its kept events ({} steps saved, {} \
             folded)",
            saved.status,
            saved.history.len(),
            folded.history.len()
        )),
        (None, None) => None,
    };
    (status, violation)
}

impl Facts {
    /// Reads every source, page by page where it can be large. Violations found while reading
    /// (unreadable streams, views that are not their fold) go to `found`.
    pub(crate) async fn read(
        sources: &Sources,
        page_size: usize,
        found: &mut Vec<Violation>,
    ) -> Result<Self, Error> {
        let mut facts = Facts::default();
        facts.read_streams(sources, page_size, found).await?;
        // After the streams: an order seen waiting has its deadline here, unless it moved on.
        facts.deadlines = sources
            .orders
            .pending_deadlines()
            .await
            .map_err(Error::store("pending deadlines"))?
            .into_iter()
            .map(|deadline| (deadline.order_id, deadline))
            .collect();
        facts.stock =
            (sources.inventory.stock_counters().await).map_err(Error::store("stock counters"))?;
        facts.reservations = (sources.inventory.reservations().await)
            .map_err(Error::store("reservations"))?
            .into_iter()
            .map(|reservation| (reservation.order_id, reservation.status))
            .collect();
        facts.payments = (sources.payments.payments().await).map_err(Error::store("payments"))?;
        facts.read_read_model(sources, page_size, found).await?;
        if let crate::DeadLetterSource::Listed(dead_letters) = &sources.dead_letters {
            let listed = dead_letters.list().await.map_err(Error::DeadLetters)?;
            facts.dead_letters = Some(listed);
        }
        Ok(facts)
    }

    async fn read_streams(
        &mut self,
        sources: &Sources,
        page_size: usize,
        found: &mut Vec<Violation>,
    ) -> Result<(), Error> {
        let mut after = None;
        loop {
            let page = (sources.orders.streams(after, page_size).await)
                .map_err(Error::store("order streams"))?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.order_id);
            for stream in &page {
                match order_facts(stream) {
                    Ok(order) => {
                        self.orders.insert(stream.order_id, order);
                    }
                    Err(violation) => {
                        self.unreadable.insert(stream.order_id);
                        found.push(violation);
                    }
                }
            }
        }
    }

    async fn read_read_model(
        &mut self,
        sources: &Sources,
        page_size: usize,
        found: &mut Vec<Violation>,
    ) -> Result<(), Error> {
        let mut after = None;
        loop {
            let page = (sources.read_model.read_model(after, page_size).await)
                .map_err(Error::store("the read model"))?;
            let Some(last) = page.last() else {
                return Ok(());
            };
            after = Some(last.order_id);
            for entry in &page {
                let (status, violation) = read_model_facts(entry);
                self.views.insert(entry.order_id, status);
                found.extend(violation);
            }
        }
    }
}
