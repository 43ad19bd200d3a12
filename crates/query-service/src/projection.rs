//! Keeping views current: every `order.*` event is kept and its order's view folded again from
//! all the events kept for it, in the same transaction as the inbox record.
//!
//! A projection that fails never skips its event: the transaction rolls back and the message is
//! retried, then dead-lettered with its error.

use async_trait::async_trait;
use contracts::Envelope;
use contracts::value::OrderId;
use order_domain::OrderEvent;
use tracing::debug;
use transport::{HandleError, Handler, Intake};

/// The read model trails the order's own state by design: its events gather for 20 ms, so
/// that a batch holds several of one order's events and folds its view once for them.
const INTAKE: Intake = Intake {
    batch: 64,
    gather: std::time::Duration::from_millis(20),
};

use crate::error::{Error, Result};
use crate::service::QueryService;
use query_domain::OrderView;
use store::query::QueryTx;

#[async_trait]
impl Handler for QueryService {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        let views = self.project_together(&[envelope]).await?;
        self.keep_current(&views).await;
        Ok(())
    }

    fn handles_batches(&self) -> bool {
        true
    }

    fn intake(&self) -> Intake {
        INTAKE
    }

    /// Keeps every new event of the batch and folds each order it touches once, all in one
    /// transaction. If anything fails, nothing of the batch is kept and each message is handled
    /// on its own, so the one at fault is found and charged alone.
    async fn handle_batch(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        match self.project_together(envelopes).await {
            Ok(views) => {
                self.keep_current(&views).await;
                envelopes.iter().map(|_| Ok(())).collect()
            }
            Err(error) => {
                debug!(error = %error, "batch not projected together; one message at a time");
                transport::handle_each(self, envelopes).await
            }
        }
    }
}

impl QueryService {
    /// Puts the views just saved in the cache.
    async fn keep_current(&self, views: &[OrderView]) {
        for view in views {
            self.cache.put(view).await;
            debug!(order.status = view.status.as_str(), "view projected");
        }
        metrics::counter!("orderflow_views_projected_total").increment(views.len() as u64);
    }

    /// Keeps every new event of `envelopes` and folds each order they touch once, in one
    /// transaction: the views it saved, or the first failure (then nothing is kept). A
    /// duplicate keeps nothing new, but its order's view is still folded and returned.
    async fn project_together(
        &self,
        envelopes: &[&Envelope],
    ) -> Result<Vec<OrderView>, HandleError> {
        // Read them all first: a message the read model ignores costs no transaction.
        let mut projected = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            if let Some(order_id) = projected_order(envelope)? {
                projected.push((order_id, *envelope));
            }
        }
        if projected.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.store.begin().await?;
        // A redelivered event keeps nothing new, but its order is folded again all the same:
        // the process may have died after the commit that kept it and before the cache heard
        // of the new view.
        let events: Vec<&Envelope> = projected.iter().map(|(_, envelope)| *envelope).collect();
        tx.handle_and_keep(&events).await?;
        // Folded in id order: a fold takes its order's lock on PostgreSQL, and two batches
        // that took the same orders' locks in opposite orders would wait for each other until
        // the server broke the deadlock (a second later, failing one of them).
        let mut touched: Vec<OrderId> = projected.iter().map(|(order_id, _)| *order_id).collect();
        touched.sort_by_key(|order_id| order_id.as_uuid());
        touched.dedup();
        let views = refresh_views(tx.as_mut(), &touched)
            .await
            .map_err(handle_error)?;
        tx.commit().await?;
        Ok(views)
    }
}

/// The order whose view `envelope` changes; `None` for a message the read model ignores.
///
/// # Errors
/// [`HandleError::Rejected`] for a message this build cannot read (poison: it must end in a
/// dead letter rather than be acknowledged unread) or whose ids disagree.
fn projected_order(envelope: &Envelope) -> Result<Option<OrderId>, HandleError> {
    // Read first, whatever the type.
    let message = envelope.decode()?;
    if !envelope.message_type.starts_with("order.") {
        debug!("not an order event; ignored");
        return Ok(None);
    }
    let order_id = message.order_id();
    if order_id.as_uuid() != envelope.correlation_id {
        return Err(HandleError::Rejected(anyhow::anyhow!(
            "correlation id {} does not match the payload's order id {order_id}",
            envelope.correlation_id
        )));
    }
    if OrderEvent::try_from(message).is_err() {
        return Ok(None);
    }
    Ok(Some(order_id))
}

/// Folds the order's kept events into its view and saves it; `None` (and nothing saved) while
/// its `order.placed` has not arrived yet.
pub(crate) async fn refresh_view(
    tx: &mut dyn QueryTx,
    order_id: OrderId,
) -> Result<Option<OrderView>> {
    Ok(refresh_views(tx, &[order_id]).await?.pop())
}

/// Folds each order's kept events into its view and saves the views, reading and writing them
/// all at once; an order whose `order.placed` has not arrived yet has no view, and is left out.
/// `order_ids` come in id order, without repeats (the order their locks are taken in).
pub(crate) async fn refresh_views(
    tx: &mut dyn QueryTx,
    order_ids: &[OrderId],
) -> Result<Vec<OrderView>> {
    let events = tx.events_of(order_ids).await?;
    let mut views = Vec::with_capacity(order_ids.len());
    for (order_id, events) in order_ids.iter().zip(&events) {
        let projected = query_domain::project(events).map_err(|source| Error::Projection {
            order_id: *order_id,
            source,
        })?;
        views.extend(projected);
    }
    tx.save_views(&views).await?;
    Ok(views)
}

fn handle_error(error: Error) -> HandleError {
    match error {
        Error::Store(error) => error.into(),
        other => HandleError::Rejected(other.into()),
    }
}
