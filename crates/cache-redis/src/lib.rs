//! The query service's view cache on Redis: `<prefix>order:{id}` holds a view as JSON with a
//! time to live, next to `<prefix>order:{id}:v`, the version it was written at.
//!
//! Redis being down is never an error here: a read is a miss, a write is dropped, and after a
//! failure nothing is sent to Redis for a second (then one call tries again), so the API keeps
//! answering from the read model at full speed.
//!
//! A dropped write leaves the view cached before it in Redis, older than the read model. The
//! cache remembers which orders' writes it dropped and deletes their keys before it reads or
//! writes anything again (every key of the prefix, if it dropped too many to remember), so no
//! outage leaves a stale view behind.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contracts::value::OrderId;
use query_domain::OrderView;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, Script};
use store::query::{ViewCache, view_version};
use tracing::{info, warn};

/// Writes the view only if no newer version is cached: KEYS[1] view, KEYS[2] version;
/// ARGV[1] JSON, ARGV[2] version, ARGV[3] ttl in ms.
const PUT_IF_NEWER: &str = r"
local cached = tonumber(redis.call('GET', KEYS[2]) or '-1')
if cached > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
";

const RECONNECT_EVERY: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(250);
/// Orders whose dropped writes are remembered one by one; past this, the whole prefix is purged.
const MAX_REMEMBERED_DROPS: usize = 10_000;
/// Keys deleted per command when purging.
const PURGE_BATCH: usize = 500;

/// Views whose writes were dropped: their cached versions may be stale.
#[derive(Debug, Default)]
struct Dropped {
    orders: HashSet<OrderId>,
    /// Too many to remember: every key of the prefix may be stale.
    all: bool,
}

impl Dropped {
    fn is_empty(&self) -> bool {
        self.orders.is_empty() && !self.all
    }

    fn add(&mut self, order_id: OrderId) {
        if self.orders.len() >= MAX_REMEMBERED_DROPS {
            self.orders.clear();
            self.all = true;
        } else if !self.all {
            self.orders.insert(order_id);
        }
    }

    fn merge(&mut self, other: Dropped) {
        self.all |= other.all;
        for order_id in other.orders {
            self.add(order_id);
        }
    }
}

/// Order views cached in Redis.
pub struct RedisViewCache {
    client: redis::Client,
    prefix: String,
    ttl: Duration,
    connection: tokio::sync::Mutex<Option<ConnectionManager>>,
    /// When a call last failed: Redis is left alone for [`RECONNECT_EVERY`] after it.
    last_failure: Mutex<Option<Instant>>,
    put_if_newer: Script,
    dropped: Mutex<Dropped>,
    /// One purge at a time; readers and writers wait for it.
    purging: tokio::sync::Mutex<()>,
}

impl RedisViewCache {
    /// A cache at `url` (e.g. `redis://127.0.0.1:6379`) whose keys start with `prefix`.
    /// Connects lazily: Redis may be down now and come up later.
    ///
    /// # Errors
    /// When `url` is not a Redis URL.
    pub fn new(url: &str, prefix: &str, ttl: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            client: redis::Client::open(url)?,
            prefix: prefix.to_owned(),
            ttl,
            connection: tokio::sync::Mutex::new(None),
            last_failure: Mutex::new(None),
            put_if_newer: Script::new(PUT_IF_NEWER),
            dropped: Mutex::default(),
            purging: tokio::sync::Mutex::new(()),
        })
    }

    fn key(&self, order_id: OrderId) -> String {
        format!("{}order:{order_id}", self.prefix)
    }

    /// A connection, or `None` while Redis is unreachable or failed less than
    /// [`RECONNECT_EVERY`] ago.
    async fn connection(&self) -> Option<ConnectionManager> {
        if self.resting() {
            return None;
        }
        let mut connection = self.connection.lock().await;
        if let Some(manager) = connection.as_ref() {
            return Some(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        match ConnectionManager::new_with_config(self.client.clone(), config).await {
            Ok(manager) => {
                *connection = Some(manager.clone());
                Some(manager)
            }
            Err(error) => {
                self.rest();
                warn!(error = %error, "redis unreachable; serving views from the read model");
                None
            }
        }
    }

    fn last_failure(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.last_failure
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether Redis failed too recently to be asked again.
    fn resting(&self) -> bool {
        self.last_failure()
            .is_some_and(|at| at.elapsed() < RECONNECT_EVERY)
    }

    fn rest(&self) {
        *self.last_failure() = Some(Instant::now());
    }

    fn dropped(&self) -> std::sync::MutexGuard<'_, Dropped> {
        self.dropped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A connection on which no stale view is left: the keys of dropped writes are deleted
    /// first. `None` while Redis is unreachable or the purge fails.
    async fn usable_connection(&self) -> Option<ConnectionManager> {
        let mut connection = self.connection().await?;
        if self.dropped().is_empty() {
            return Some(connection);
        }
        let _one_purge = self.purging.lock().await;
        let stale = std::mem::take(&mut *self.dropped());
        if stale.is_empty() {
            return Some(connection);
        }
        match self.purge(&mut connection, &stale).await {
            Ok(deleted) => {
                info!(
                    keys = deleted,
                    "redis is back; removed the views it may hold stale"
                );
                Some(connection)
            }
            Err(error) => {
                self.failed(&error);
                self.dropped().merge(stale);
                None
            }
        }
    }

    /// Deletes the cached views of `stale`; returns how many keys it deleted.
    async fn purge(
        &self,
        connection: &mut ConnectionManager,
        stale: &Dropped,
    ) -> redis::RedisResult<usize> {
        let keys: Vec<String> = if stale.all {
            let mut keys = Vec::new();
            let mut found = connection
                .scan_match::<_, String>(format!("{}order:*", self.prefix))
                .await?;
            while let Some(key) = found.next_item().await {
                keys.push(key?);
            }
            keys
        } else {
            stale
                .orders
                .iter()
                .flat_map(|order_id| {
                    let key = self.key(*order_id);
                    [format!("{key}:v"), key]
                })
                .collect()
        };
        let mut deleted = 0;
        for batch in keys.chunks(PURGE_BATCH) {
            deleted += connection.del::<_, usize>(batch).await?;
        }
        Ok(deleted)
    }

    fn failed(&self, error: &redis::RedisError) {
        self.rest();
        metrics::counter!("orderflow_view_cache_errors_total").increment(1);
        warn!(error = %error, "redis cache call failed");
    }

    /// Whether Redis answers now; for readiness checks.
    pub async fn ping(&self) -> bool {
        let Some(mut connection) = self.connection().await else {
            return false;
        };
        match redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
        {
            Ok(_) => true,
            Err(error) => {
                self.failed(&error);
                false
            }
        }
    }

    /// Removes every key of this cache's prefix (for tests that clean up after themselves).
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn clear(&self) -> anyhow::Result<()> {
        let mut connection = self
            .connection()
            .await
            .ok_or_else(|| anyhow::anyhow!("redis unreachable"))?;
        let keys: Vec<String> = connection.keys(format!("{}*", self.prefix)).await?;
        if !keys.is_empty() {
            let _: () = connection.del(keys).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl ViewCache for RedisViewCache {
    async fn get(&self, order_id: OrderId) -> Option<OrderView> {
        let mut connection = self.usable_connection().await?;
        match connection
            .get::<_, Option<String>>(self.key(order_id))
            .await
        {
            Ok(json) => json.and_then(|json| serde_json::from_str(&json).ok()),
            Err(error) => {
                self.failed(&error);
                None
            }
        }
    }

    async fn put(&self, view: &OrderView) {
        let Some(mut connection) = self.usable_connection().await else {
            self.dropped().add(OrderId::new(view.order_id));
            return;
        };
        let Ok(json) = serde_json::to_string(view) else {
            return;
        };
        let key = self.key(OrderId::new(view.order_id));
        let ttl_ms = u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX);
        let written: Result<i64, _> = self
            .put_if_newer
            .key(&key)
            .key(format!("{key}:v"))
            .arg(json)
            .arg(view_version(view))
            .arg(ttl_ms)
            .invoke_async(&mut connection)
            .await;
        if let Err(error) = written {
            // It may or may not have been written: either way, what Redis holds may be stale.
            self.dropped().add(OrderId::new(view.order_id));
            self.failed(&error);
        }
    }
}
