//! One service's schema in the shared database: the pool whose sessions use it (every
//! unqualified name resolves there), its migrations, and transactions on it.
//!
//! It never reaches into another service's schema: services share no state but messages.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use contracts::Queue;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use store_sql::migrations::Scripts;
use tokio::sync::Notify;

use crate::error::SqlResultExt as _;
use crate::unit_of_work::PgTx;

/// Connections unused this long are closed, so idle replicas do not hold server slots.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The relay's connections per service and process: one relay runs at a time, and
/// `OutboxReader::lag` reads through the main pool.
const RELAY_CONNECTIONS: u32 = 1;
/// A readiness probe answers within this, database up or not.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// How one service's pool uses the server's connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections per service and process; a relay's `LISTEN` holds one more. The server's
    /// `max_connections` must cover every replica of every service.
    pub max_connections: u32,
    /// How long a caller waits for a connection before the store reports `Unavailable`.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    /// Five connections, ten seconds.
    fn default() -> Self {
        Self {
            max_connections: 5,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// One service's schema (`<service>_service`) in a PostgreSQL database. Cheap to clone: clones
/// share the pool.
#[derive(Clone, Debug)]
pub struct PgDatabase {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: Queue,
    pool: PgPool,
    /// The relay's own connections, opened when first used, whose commits do not wait for
    /// the write-ahead log to reach the disk (`synchronous_commit = off`): its claims and
    /// deletes are bookkeeping that a crash may undo at no cost. A claim lost is as if never
    /// taken, a delete lost has its message published again, and consumers deduplicate.
    relay_pool: PgPool,
    /// Woken when a transaction of this process that wrote to the outbox commits.
    outbox_committed: Notify,
}

impl PgDatabase {
    /// Connects to `database_url` for `service`, creating the service's schema if it is
    /// missing and applying its migrations (the migrations table lives in that schema too),
    /// with the [`PoolSettings::default`] pool.
    ///
    /// # Errors
    /// When the url does not parse, the server cannot be reached, or a migration fails.
    pub async fn connect(database_url: &str, service: Queue) -> anyhow::Result<Self> {
        Self::connect_with(database_url, service, PoolSettings::default()).await
    }

    /// [`PgDatabase::connect`] with a pool of `settings`.
    ///
    /// # Errors
    /// When the url does not parse, the server cannot be reached, or a migration fails.
    pub async fn connect_with(
        database_url: &str,
        service: Queue,
        settings: PoolSettings,
    ) -> anyhow::Result<Self> {
        let schema = schema_name(service);
        let options = PgConnectOptions::from_str(database_url)
            .context("parse the database url")?
            .options([("search_path", schema.as_str())])
            .application_name(&format!("orderflow-{}", service.name()));
        let pool_options = || {
            PgPoolOptions::new()
                .acquire_timeout(settings.acquire_timeout)
                .idle_timeout(IDLE_TIMEOUT)
                // No ping before each use: a round trip per transaction for nothing. A broken
                // connection fails its statement instead, which is an outage like any other.
                .test_before_acquire(false)
        };
        let relay_pool = pool_options()
            .max_connections(RELAY_CONNECTIONS)
            .connect_lazy_with(
                options
                    .clone()
                    .options([("synchronous_commit", "off")])
                    .application_name(&format!("orderflow-{}-relay", service.name())),
            );
        let pool = pool_options()
            .max_connections(settings.max_connections)
            .connect_with(options)
            .await
            .with_context(|| format!("connect to the {} database", service.name()))?;
        let mut migrator = MIGRATIONS.migrator(service);
        // Under the migrator's advisory lock, so that replicas starting together do not race.
        migrator.create_schema(schema.clone());
        migrator.dangerous_set_table_name(format!("{schema}._sqlx_migrations"));
        migrator
            .run(&pool)
            .await
            .with_context(|| format!("migrate schema {schema}"))?;
        Ok(Self {
            inner: Arc::new(Inner {
                service,
                pool,
                relay_pool,
                outbox_committed: Notify::new(),
            }),
        })
    }

    /// Connects to the existing schema of `service` in `database_url` for reading only, neither
    /// creating nor migrating it: for `orderflow verify`. Its sessions are read-only
    /// (`default_transaction_read_only`), so every write through it fails.
    ///
    /// # Errors
    /// When the url does not parse, the server cannot be reached, or the schema is missing.
    pub async fn connect_read_only(database_url: &str, service: Queue) -> anyhow::Result<Self> {
        let schema = schema_name(service);
        let options = PgConnectOptions::from_str(database_url)
            .context("parse the database url")?
            .options([
                ("search_path", schema.as_str()),
                ("default_transaction_read_only", "on"),
            ])
            .application_name(&format!("orderflow-verify-{}", service.name()));
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(PoolSettings::default().acquire_timeout)
            .connect_with(options)
            .await
            .with_context(|| format!("connect to the {} database", service.name()))?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)",
        )
        .bind(&schema)
        .fetch_one(&pool)
        .await
        .with_context(|| format!("look for schema {schema}"))?;
        if !exists {
            pool.close().await;
            anyhow::bail!(
                "schema {schema} does not exist: nothing was migrated into this database"
            );
        }
        Ok(Self {
            inner: Arc::new(Inner {
                service,
                relay_pool: pool.clone(),
                pool,
                outbox_committed: Notify::new(),
            }),
        })
    }

    /// The service whose schema this is.
    pub fn service(&self) -> Queue {
        self.inner.service
    }

    /// The schema holding the service's tables, e.g. `order_service`.
    pub fn schema(&self) -> String {
        schema_name(self.inner.service)
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The relay's pool: see [`Inner::relay_pool`].
    pub(crate) fn relay_pool(&self) -> &PgPool {
        &self.inner.relay_pool
    }

    /// Woken by each commit of this process that wrote to the outbox: this service's relay
    /// runs in every process that writes its outbox, so no commit needs to reach another
    /// process (a relay also polls, for rows other replicas' relays left behind).
    pub(crate) fn outbox_committed(&self) -> &Notify {
        &self.inner.outbox_committed
    }

    pub(crate) async fn begin(&self) -> store::Result<PgTx> {
        // Explicit, whatever the server's default: row locks, conditional updates and unique
        // constraints keep writers apart; SERIALIZABLE would only add retries.
        let tx = self
            .inner
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .or_store_error("begin transaction")?;
        Ok(PgTx::new(tx, self.clone()))
    }

    /// Whether the database answers a query within two seconds.
    pub async fn ping(&self) -> bool {
        let query = sqlx::query("SELECT 1").execute(&self.inner.pool);
        matches!(tokio::time::timeout(PING_TIMEOUT, query).await, Ok(Ok(_)))
    }

    /// Closes the pools, waiting for connections in use.
    pub async fn close(&self) {
        self.inner.relay_pool.close().await;
        self.inner.pool.close().await;
    }
}

/// `order` alone is a reserved word, hence the suffix.
fn schema_name(service: Queue) -> String {
    format!("{}_service", service.name())
}

/// This dialect's migrations, one file a version under `migrations/`.
const MIGRATIONS: Scripts = store_sql::embed_migrations!();

/// Creates every service's schema in the database at `database_url` and applies their
/// migrations (`orderflow migrate`). Safe to run again, and alongside starting services.
///
/// # Errors
/// When the server cannot be reached or a migration fails.
pub async fn migrate_all(database_url: &str) -> anyhow::Result<()> {
    let settings = PoolSettings {
        max_connections: 1,
        ..PoolSettings::default()
    };
    for service in Queue::ALL {
        PgDatabase::connect_with(database_url, service, settings)
            .await?
            .close()
            .await;
    }
    Ok(())
}
