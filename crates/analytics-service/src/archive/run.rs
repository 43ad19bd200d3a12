//! The archiver: a round every second writes the files claimed but not written, then cuts the
//! files that are due; a last round on shutdown cuts every file. It runs in the analytics
//! process, beside its consumers, and waits out any outage of the database or the store (the
//! events stay in the database until archived).

use std::sync::Arc;
use std::time::Duration;

use store::analytics::{ArchiveBacklog, Unarchived};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::AnalyticsService;
use crate::archive::{BlobStore, encode, file_name};

/// When a file is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArchiveSettings {
    /// At most this many events a file.
    pub max_events: usize,
    /// A file is cut once its events' JSON reaches this many bytes (before compression).
    pub max_bytes: u64,
    /// A file is cut this long after its first event was kept.
    pub max_age: Duration,
    /// How often the archiver looks.
    pub every: Duration,
    /// At most this many events are assigned to a file in one transaction: a large file is
    /// claimed in several, so no claim holds the database's writer for long (an embedded
    /// database has one writer, which the saga's messages wait for).
    pub claim_chunk: usize,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        Self {
            max_events: 10_000,
            max_bytes: 8 * 1024 * 1024,
            max_age: Duration::from_secs(60),
            every: Duration::from_secs(1),
            claim_chunk: 500,
        }
    }
}

/// What one round wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchiveRound {
    pub files: usize,
    pub events: usize,
}

/// Archives until `shutdown`, then cuts and writes every file left.
pub async fn run_archiver(
    service: Arc<AnalyticsService>,
    blobs: Arc<dyn BlobStore>,
    settings: ArchiveSettings,
    shutdown: CancellationToken,
) {
    let mut ticks = tokio::time::interval(settings.every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticks.tick() => {}
        }
        if let Err(error) = service.archive(blobs.as_ref(), &settings, false).await {
            warn!(
                error = format!("{error:#}"),
                "archive round failed; retried next round"
            );
        }
    }
    match service.archive(blobs.as_ref(), &settings, true).await {
        Ok(round) => info!(
            files = round.files,
            events = round.events,
            "archive flushed"
        ),
        Err(error) => warn!(
            error = format!("{error:#}"),
            "archive not flushed at shutdown; the next start archives the rest"
        ),
    }
}

impl AnalyticsService {
    /// One archive round: writes the files claimed but not written, then cuts and writes the
    /// files that are due (every one when `flush`).
    ///
    /// # Errors
    /// When the database or the store fails; what was written stays written.
    pub async fn archive(
        &self,
        blobs: &dyn BlobStore,
        settings: &ArchiveSettings,
        flush: bool,
    ) -> anyhow::Result<ArchiveRound> {
        let mut round = ArchiveRound::default();
        for name in self.store.unwritten_files().await? {
            round.events += self.write_file(blobs, &name).await?;
            round.files += 1;
        }
        for backlog in self.store.archive_backlog().await? {
            let whole_hour = flush || is_old(&backlog, settings);
            let mut remaining = backlog;
            while whole_hour || is_full(&remaining, settings) {
                let Some((name, taken)) = self.claim_file(&remaining, settings).await? else {
                    break;
                };
                round.events += self.write_file(blobs, &name).await?;
                round.files += 1;
                remaining.events = remaining.events.saturating_sub(taken.events);
                remaining.bytes = remaining.bytes.saturating_sub(taken.bytes);
                if remaining.events == 0 {
                    break;
                }
            }
        }
        if round.files > 0 {
            debug!(files = round.files, events = round.events, "archived");
            metrics::counter!("orderflow_archive_files_total").increment(round.files as u64);
        }
        Ok(round)
    }

    /// Claims the next file of `backlog`'s hour: its events in archive order up to the size
    /// limits (at least one), [`ArchiveSettings::claim_chunk`] at a time, each in a
    /// transaction of its own. `None` when the hour has nothing left, or another archiver
    /// took some of the first chunk first. Events another archiver took from a later chunk
    /// are in its file instead; a crash between two chunks leaves a smaller file, which the
    /// next round writes, and the rest of its events to later files.
    async fn claim_file(
        &self,
        backlog: &ArchiveBacklog,
        settings: &ArchiveSettings,
    ) -> anyhow::Result<Option<(String, ArchiveBacklog)>> {
        let mut tx = self.store.begin().await?;
        let candidates = tx
            .unarchived(backlog.hour_start_ms, settings.max_events.max(1))
            .await?;
        let chosen = up_to_size(&candidates, settings.max_bytes);
        let Some(first) = chosen.first() else {
            return Ok(None);
        };
        let name = file_name(first);
        let ids: Vec<Uuid> = chosen.iter().map(|event| event.message_id).collect();
        let mut chunks = ids.chunks(settings.claim_chunk.max(1));
        if let Some(chunk) = chunks.next() {
            let taken = tx.claim_file(&name, backlog.hour_start_ms, chunk).await?;
            if taken != chunk.len() as u64 {
                debug!(
                    file = name,
                    "events taken by another archiver; claimed nothing"
                );
                return Ok(None);
            }
            tx.commit().await?;
        }
        for chunk in chunks {
            let mut tx = self.store.begin().await?;
            tx.claim_file(&name, backlog.hour_start_ms, chunk).await?;
            tx.commit().await?;
        }
        Ok(Some((
            name,
            ArchiveBacklog {
                events: ids.len() as u64,
                bytes: chosen.iter().map(|event| event.bytes).sum(),
                ..*backlog
            },
        )))
    }

    /// Writes a claimed file from its events and marks it written; how many it holds.
    async fn write_file(&self, blobs: &dyn BlobStore, name: &str) -> anyhow::Result<usize> {
        let events = self.store.file_events(name).await?;
        let count = events.len();
        // Compressing thousands of events is milliseconds of CPU: off the async workers, where
        // it held up the saga's tasks behind it.
        let bytes = tokio::task::spawn_blocking(move || encode(&events)).await??;
        blobs.put(name, bytes).await?;
        self.store.mark_written(name).await?;
        Ok(count)
    }
}

fn is_old(backlog: &ArchiveBacklog, settings: &ArchiveSettings) -> bool {
    i128::from(backlog.oldest_age_ms) >= settings.max_age.as_millis() as i128
}

fn is_full(backlog: &ArchiveBacklog, settings: &ArchiveSettings) -> bool {
    backlog.events >= settings.max_events as u64 || backlog.bytes >= settings.max_bytes
}

/// The first events whose bytes stay within `max_bytes`, and at least one.
fn up_to_size(candidates: &[Unarchived], max_bytes: u64) -> &[Unarchived] {
    let mut total = 0u64;
    let mut count = 0;
    for event in candidates {
        if count > 0 && total + event.bytes > max_bytes {
            break;
        }
        total += event.bytes;
        count += 1;
    }
    &candidates[..count]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(bytes: u64) -> Unarchived {
        Unarchived {
            message_id: Uuid::now_v7(),
            occurred_at_ms: 0,
            bytes,
        }
    }

    #[test]
    fn a_file_takes_events_up_to_its_byte_limit_and_at_least_one() {
        let events = [event(40), event(40), event(40)];
        assert_eq!(up_to_size(&events, 100).len(), 2);
        assert_eq!(up_to_size(&events, 10).len(), 1);
        assert_eq!(up_to_size(&events, 1_000).len(), 3);
        assert!(up_to_size(&[], 10).is_empty());
    }
}
