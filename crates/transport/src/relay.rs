use std::sync::Arc;
use std::time::Duration;

use store::OutboxReader;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::{OutageReporter, Publisher};

const BATCH: usize = 128;
/// The relay also polls, in case a wake-up is missed (or comes from another process).
const POLL: Duration = Duration::from_millis(250);

/// Publishes one service's outbox until `shutdown`, oldest first, marking messages published
/// only after the transport confirmed them. On shutdown it flushes what is pending. It tells
/// `outages` when it cannot read its outbox or publish, and when it can again.
///
/// A batch is marked published by the next read of the outbox, in the same round trip
/// ([`OutboxReader::mark_published_then_pending`]): right away under load, at the next commit
/// or look (at most 250 ms later) when idle. A relay that stops in between leaves its last
/// batch to be published again, which consumers deduplicate; one that shuts down marks it.
pub async fn run_relay(
    name: &'static str,
    outbox: Arc<dyn OutboxReader>,
    publisher: Arc<dyn Publisher>,
    outages: OutageReporter,
    shutdown: CancellationToken,
) {
    let mut failures = 0u32;
    // Published, not yet marked so.
    let mut published = Vec::new();
    loop {
        let attempt = tokio::time::Instant::now();
        let relayed = relay_batch(outbox.as_ref(), publisher.as_ref(), &mut published).await;
        match &relayed {
            Ok(_) => outages.up(),
            Err(_) => outages.down(attempt),
        }
        match relayed {
            Ok(0) if shutdown.is_cancelled() => return,
            // Nothing, or a batch short of full, drained the outbox as it stood: wait for the
            // next commit (one that came meanwhile has left its wake-up) instead of reading
            // once more for nothing. On shutdown, read until nothing is left.
            Ok(relayed) if relayed < BATCH && !shutdown.is_cancelled() => {
                failures = 0;
                tokio::select! {
                    () = outbox.wait_for_new(POLL) => {}
                    () = shutdown.cancelled() => {}
                }
            }
            Ok(_) => failures = 0,
            Err(error) => {
                failures += 1;
                warn!(
                    outbox = name,
                    error = format!("{error:#}"),
                    "cannot relay the outbox; retrying"
                );
                if shutdown.is_cancelled() && failures > 3 {
                    return;
                }
                // Doubling up to 1.6 s: the relay resumes soon after the transport is back.
                let delay = Duration::from_millis(100 * 2u64.pow(failures.min(4)));
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Marks `published` published while reading the next batch, publishes that batch, and leaves
/// its ids in `published`; returns how many messages it published.
async fn relay_batch(
    outbox: &dyn OutboxReader,
    publisher: &dyn Publisher,
    published: &mut Vec<i64>,
) -> anyhow::Result<usize> {
    let entries = outbox.mark_published_then_pending(published, BATCH).await?;
    published.clear();
    if entries.is_empty() {
        return Ok(0);
    }
    let envelopes: Vec<_> = entries.iter().map(|entry| entry.envelope.clone()).collect();
    publisher.publish(&envelopes).await?;
    published.extend(entries.iter().map(|entry| entry.id));
    metrics::counter!("orderflow_outbox_published_total").increment(entries.len() as u64);
    Ok(entries.len())
}
