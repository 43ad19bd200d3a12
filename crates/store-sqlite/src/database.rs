use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use contracts::Queue;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use store_sql::migrations::Scripts;
use tokio::sync::{Notify, watch};

use crate::error::SqlResultExt as _;
use crate::unit_of_work::SqliteTx;

/// One service's database file.
#[derive(Clone, Debug)]
pub struct SqliteDatabase {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    service: Queue,
    writer: SqlitePool,
    reader: SqlitePool,
    /// Woken when a transaction that wrote to the outbox commits.
    outbox_committed: Notify,
    /// Counts publishes to this database's queue; consumers wait for it to change.
    queue_filled: watch::Sender<u64>,
}

impl SqliteDatabase {
    /// Opens (creating if needed) and migrates `<data_dir>/<service>.db`.
    ///
    /// # Errors
    /// When the file cannot be opened or migrated.
    pub async fn open(data_dir: &Path, service: Queue) -> anyhow::Result<Self> {
        let path = data_dir.join(format!("{}.db", service.name()));
        crate::private_files::make_database_private(&path)
            .with_context(|| format!("make {} private", path.display()))?;
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.clone())
            .await
            .with_context(|| format!("open {}", path.display()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options.read_only(true))
            .await
            .with_context(|| format!("open {} for reading", path.display()))?;
        MIGRATIONS
            .migrator(service)
            .run(&writer)
            .await
            .with_context(|| format!("migrate {}", path.display()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                service,
                writer,
                reader,
                outbox_committed: Notify::new(),
                queue_filled: watch::Sender::new(0),
            }),
        })
    }

    /// Opens an existing `<data_dir>/<service>.db` for reading only, neither creating nor
    /// migrating it: for `orderflow verify`, beside a server that may be running on it (WAL
    /// readers never block its writer). Every write through it fails.
    ///
    /// # Errors
    /// When the file does not exist or cannot be opened.
    pub async fn open_read_only(data_dir: &Path, service: Queue) -> anyhow::Result<Self> {
        let path = data_dir.join(format!("{}.db", service.name()));
        anyhow::ensure!(
            path.is_file(),
            "no {} database at {}",
            service.name(),
            path.display()
        );
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(10));
        let reader = SqlitePoolOptions::new()
            .max_connections(2)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await
            .with_context(|| format!("open {} for reading", path.display()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                service,
                writer: reader.clone(),
                reader,
                outbox_committed: Notify::new(),
                queue_filled: watch::Sender::new(0),
            }),
        })
    }

    pub fn service(&self) -> Queue {
        self.inner.service
    }

    pub(crate) fn writer(&self) -> &SqlitePool {
        &self.inner.writer
    }

    pub(crate) fn reader(&self) -> &SqlitePool {
        &self.inner.reader
    }

    pub(crate) async fn begin(&self) -> store::Result<SqliteTx> {
        let tx = self
            .inner
            .writer
            .begin()
            .await
            .or_store_error("begin transaction")?;
        Ok(SqliteTx::new(tx, self.clone()))
    }

    pub(crate) fn outbox_committed(&self) -> &Notify {
        &self.inner.outbox_committed
    }

    /// Tells this database's consumers that messages were put on its queue.
    pub(crate) fn signal_queue_filled(&self) {
        self.inner
            .queue_filled
            .send_modify(|count| *count = count.wrapping_add(1));
    }

    /// A receiver that sees every later [`SqliteDatabase::signal_queue_filled`].
    pub(crate) fn queue_changes(&self) -> watch::Receiver<u64> {
        self.inner.queue_filled.subscribe()
    }

    /// Whether the database answers a query.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1")
            .execute(&self.inner.reader)
            .await
            .is_ok()
    }

    /// Closes both pools, waiting for connections in use.
    pub async fn close(&self) {
        self.inner.writer.close().await;
        self.inner.reader.close().await;
    }
}

/// This dialect's migrations, one file a version under `migrations/`.
const MIGRATIONS: Scripts = store_sql::embed_migrations!();

/// Every service's database, opened from one data directory (the embedded mode).
#[derive(Clone, Debug)]
pub struct Databases {
    pub order: SqliteDatabase,
    pub inventory: SqliteDatabase,
    pub payment: SqliteDatabase,
    pub notification: SqliteDatabase,
    pub query: SqliteDatabase,
}

impl Databases {
    /// # Errors
    /// When the directory or a database cannot be created or migrated.
    pub async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        crate::private_files::create_private_dir(data_dir)
            .with_context(|| format!("create data dir {}", data_dir.display()))?;
        Ok(Self {
            order: SqliteDatabase::open(data_dir, Queue::Order).await?,
            inventory: SqliteDatabase::open(data_dir, Queue::Inventory).await?,
            payment: SqliteDatabase::open(data_dir, Queue::Payment).await?,
            notification: SqliteDatabase::open(data_dir, Queue::Notification).await?,
            query: SqliteDatabase::open(data_dir, Queue::Query).await?,
        })
    }

    /// Every service's existing database in `data_dir`, read-only: see
    /// [`SqliteDatabase::open_read_only`].
    ///
    /// # Errors
    /// When a database file is missing or cannot be opened.
    pub async fn open_read_only(data_dir: &Path) -> anyhow::Result<Self> {
        Ok(Self {
            order: SqliteDatabase::open_read_only(data_dir, Queue::Order).await?,
            inventory: SqliteDatabase::open_read_only(data_dir, Queue::Inventory).await?,
            payment: SqliteDatabase::open_read_only(data_dir, Queue::Payment).await?,
            notification: SqliteDatabase::open_read_only(data_dir, Queue::Notification).await?,
            query: SqliteDatabase::open_read_only(data_dir, Queue::Query).await?,
        })
    }

    pub fn all(&self) -> [&SqliteDatabase; 5] {
        [
            &self.order,
            &self.inventory,
            &self.payment,
            &self.notification,
            &self.query,
        ]
    }

    pub fn get(&self, service: Queue) -> &SqliteDatabase {
        match service {
            Queue::Order => &self.order,
            Queue::Inventory => &self.inventory,
            Queue::Payment => &self.payment,
            Queue::Notification => &self.notification,
            Queue::Query => &self.query,
        }
    }

    pub async fn close(&self) {
        for database in self.all() {
            database.close().await;
        }
    }
}
