//! A service schema's outbox, as relays read it: claimed in id order, deleted once published.
//!
//! Several relay replicas may drain one outbox at once, each through a [`PgOutbox`] of its own.
//! A relay claims the rows it reads for a while (`claimed_until`, by the database's clock),
//! skipping rows another relay is claiming at that moment (`FOR UPDATE SKIP LOCKED`) or holds a
//! live claim on, so no row is handed to two relays at once. Until it marks them published, a
//! relay reads its own claimed rows again (a failed publish is retried first, in order, as with
//! one relay on SQLite); a relay that dies leaves claims that expire. Rows are read by id and
//! deleted when published, so a row committed late by a slower transaction is simply read next
//! time: there is no position to skip past it. It never publishes anything itself.
//!
//! A relay going on deletes what it published and claims what comes next in one statement
//! ([`OutboxReader::mark_published_then_pending`]), on connections of its own that commit
//! without waiting for the disk: claims and deletes are bookkeeping, and a crash that undoes
//! one costs at most a message published again.

use std::time::Duration;

use async_trait::async_trait;
use store::{OutboxEntry, OutboxReader};
use store_sql::messaging::outbox_entry;
use store_sql::value::{duration_millis, to_limit};
use uuid::Uuid;

use crate::database::PgDatabase;
use crate::error::SqlResultExt as _;

/// How long a relay holds the rows it read before another relay may take them.
const DEFAULT_CLAIM: Duration = Duration::from_secs(5);

/// [`OutboxReader`] on one service's schema, safe for several relays at once.
///
/// Clones are the same relay: they share its claims.
#[derive(Clone, Debug)]
pub struct PgOutbox {
    database: PgDatabase,
    /// Who claims rows: this relay, as opposed to other replicas.
    relay_id: String,
    claim: Duration,
}

impl PgOutbox {
    /// The outbox of `database`'s service, read by a new relay; rows read are claimed for 5
    /// seconds.
    pub fn new(database: PgDatabase) -> Self {
        Self {
            relay_id: Uuid::new_v4().to_string(),
            database,
            claim: DEFAULT_CLAIM,
        }
    }

    /// Claims rows for `claim` instead: how long a relay that read rows and then died delays
    /// them. Longer than a publish takes, or two relays may publish the same row (harmless:
    /// delivery is at-least-once, consumers deduplicate).
    #[must_use]
    pub fn with_claim(mut self, claim: Duration) -> Self {
        self.claim = claim;
        self
    }
}

#[async_trait]
impl OutboxReader for PgOutbox {
    async fn pending(&self, max: usize) -> store::Result<Vec<OutboxEntry>> {
        self.mark_published_then_pending(&[], max).await
    }

    async fn mark_published(&self, ids: &[i64]) -> store::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
            .bind(ids)
            .execute(self.database.relay_pool())
            .await
            .or_store_error("delete published outbox messages")?;
        Ok(())
    }

    async fn mark_published_then_pending(
        &self,
        published: &[i64],
        max: usize,
    ) -> store::Result<Vec<OutboxEntry>> {
        // One statement: the delete and the claim see the same snapshot, so the claim leaves
        // out the rows being deleted by id (claimed by this relay, they would qualify).
        let rows = sqlx::query(concat!(
            "WITH published AS (DELETE FROM outbox WHERE id = ANY($4)) ",
            "UPDATE outbox SET claimed_by = $3, claimed_until = ",
            now_ms!(),
            " + $2 WHERE id IN (SELECT id FROM outbox WHERE (claimed_until IS NULL OR claimed_until < ",
            now_ms!(),
            " OR claimed_by = $3) AND id <> ALL($4) ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) ",
            "RETURNING id, envelope"
        ))
        .bind(to_limit(max))
        .bind(duration_millis(self.claim))
        .bind(&self.relay_id)
        .bind(published)
        .fetch_all(self.database.relay_pool())
        .await
        .or_store_error("claim outbox messages")?;
        let mut entries = rows
            .iter()
            .map(outbox_entry)
            .collect::<store::Result<Vec<_>>>()?;
        // RETURNING follows no order.
        entries.sort_by_key(|entry| entry.id);
        Ok(entries)
    }

    async fn wait_for_new(&self, timeout: Duration) {
        // A commit while nobody waited left a permit: a commit between the read and this
        // wait is not missed.
        let _ = tokio::time::timeout(timeout, self.database.outbox_committed().notified()).await;
    }

    async fn lag(&self) -> store::Result<u64> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
            .fetch_one(self.database.pool())
            .await
            .or_store_error("count outbox")?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
