//! The query service's view cache on Redis: `<prefix>order:{id}` holds a view as JSON with a
//! time to live, next to `<prefix>order:{id}:v`, the version it was written at.
//!
//! Redis being down is never an error here: a read is a miss, a write is dropped, and the
//! connection is tried again at most once a second, so the API keeps answering from the read
//! model at full speed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contracts::value::OrderId;
use query_domain::OrderView;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands as _, Script};
use store::query::{ViewCache, view_version};
use tracing::warn;

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

/// Order views cached in Redis.
pub struct RedisViewCache {
    client: redis::Client,
    prefix: String,
    ttl: Duration,
    connection: tokio::sync::Mutex<Option<ConnectionManager>>,
    last_attempt: Mutex<Option<Instant>>,
    put_if_newer: Script,
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
            last_attempt: Mutex::new(None),
            put_if_newer: Script::new(PUT_IF_NEWER),
        })
    }

    fn key(&self, order_id: OrderId) -> String {
        format!("{}order:{order_id}", self.prefix)
    }

    /// A connection, or `None` while Redis is unreachable.
    async fn connection(&self) -> Option<ConnectionManager> {
        let mut connection = self.connection.lock().await;
        if let Some(manager) = connection.as_ref() {
            return Some(manager.clone());
        }
        {
            let mut last = self
                .last_attempt
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if last.is_some_and(|at| at.elapsed() < RECONNECT_EVERY) {
                return None;
            }
            *last = Some(Instant::now());
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
                warn!(error = %error, "redis unreachable; serving views from the read model");
                None
            }
        }
    }

    fn failed(&self, error: &redis::RedisError) {
        metrics::counter!("orderflow_view_cache_errors_total").increment(1);
        warn!(error = %error, "redis cache call failed");
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
        let mut connection = self.connection().await?;
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
        let Some(mut connection) = self.connection().await else {
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
            self.failed(&error);
        }
    }
}
