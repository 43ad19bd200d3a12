//! Consuming the analytics stream: each new event is kept, recorded in the inbox and counted
//! in one transaction; a batch is one transaction, or one message at a time when any of it
//! fails, so the one at fault is found and charged alone.

use analytics_domain::{Increment, completion, increments, moment};
use async_trait::async_trait;
use contracts::Envelope;
use tracing::debug;
use transport::{HandleError, Handler, Intake};

/// The stream is off the saga's path: its events gather for a fifth of a second, so that
/// under load each transaction counts hundreds of them (one counter row per bucket instead of
/// one per event), and the saga's handlers get the CPU.
const INTAKE: Intake = Intake {
    batch: 256,
    gather: std::time::Duration::from_millis(200),
};

use crate::AnalyticsService;

#[async_trait]
impl Handler for AnalyticsService {
    async fn handle(&self, envelope: &Envelope) -> Result<(), HandleError> {
        self.count_together(&[envelope]).await
    }

    fn handles_batches(&self) -> bool {
        true
    }

    fn intake(&self) -> Intake {
        INTAKE
    }

    async fn handle_batch(&self, envelopes: &[&Envelope]) -> Vec<Result<(), HandleError>> {
        match self.count_together(envelopes).await {
            Ok(()) => envelopes.iter().map(|_| Ok(())).collect(),
            Err(error) => {
                debug!(error = %error, "batch not counted together; one message at a time");
                transport::handle_each(self, envelopes).await
            }
        }
    }
}

impl AnalyticsService {
    /// Keeps and counts every new event of `envelopes` in one transaction.
    async fn count_together(&self, envelopes: &[&Envelope]) -> Result<(), HandleError> {
        // Read them all first: a message this build cannot read is poison, never acknowledged
        // unread.
        let mut streamed = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            let message = envelope.decode()?;
            if !contracts::is_streamed(&envelope.message_type) {
                // A command (`payment.charge` holds a payment token): never kept here.
                debug!("not a streamed event; ignored");
                continue;
            }
            let order_id = message.order_id();
            if order_id.as_uuid() != envelope.correlation_id {
                return Err(HandleError::Rejected(anyhow::anyhow!(
                    "correlation id {} does not match the payload's order id {order_id}",
                    envelope.correlation_id
                )));
            }
            streamed.push((*envelope, message));
        }
        if streamed.is_empty() {
            return Ok(());
        }
        // Orders in id order (each order's events as they came): on PostgreSQL, noting an
        // order's moment locks its row, and two batches that locked the same orders' rows in
        // opposite orders would wait for each other until the server broke the deadlock (a
        // second later, failing one of them). The counters are added in key order already.
        streamed.sort_by_key(|(envelope, _)| envelope.correlation_id);
        let mut tx = self.store.begin().await?;
        let ids: Vec<_> = streamed
            .iter()
            .map(|(envelope, _)| envelope.message_id)
            .collect();
        let fresh = tx.mark_all_handled(&ids).await?;
        let new: Vec<_> = streamed
            .iter()
            .zip(fresh)
            .filter_map(|(streamed, fresh)| fresh.then_some(streamed))
            .collect();
        if new.len() < streamed.len() {
            debug!(
                repeats = streamed.len() - new.len(),
                "events already counted"
            );
        }
        let kept: Vec<&Envelope> = new.iter().map(|(envelope, _)| *envelope).collect();
        tx.keep_events(&kept).await?;
        let mut counted: Vec<Increment> = Vec::new();
        let mut moments = Vec::new();
        for (envelope, message) in &new {
            counted.extend(increments(message, envelope.occurred_at));
            if let Some((moment, at_ms)) = moment(message) {
                moments.push((message.order_id(), moment, at_ms));
            }
        }
        let before = tx.note_moments(&moments).await?;
        for ((_, moment, at_ms), before) in moments.iter().zip(before) {
            counted.extend(completion(before, *moment, *at_ms));
        }
        tx.add(&counted).await?;
        tx.commit().await?;
        metrics::counter!("orderflow_analytics_events_total").increment(kept.len() as u64);
        Ok(())
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
