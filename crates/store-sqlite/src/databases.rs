//! Every service's database of one data directory, opened together (the embedded mode).

use std::path::Path;

use anyhow::Context as _;
use contracts::Queue;

use crate::SqliteDatabase;

/// Every service's database, opened from one data directory (the embedded mode).
#[derive(Clone, Debug)]
pub struct Databases {
    pub order: SqliteDatabase,
    pub inventory: SqliteDatabase,
    pub payment: SqliteDatabase,
    pub notification: SqliteDatabase,
    pub query: SqliteDatabase,
    pub analytics: SqliteDatabase,
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
            analytics: SqliteDatabase::open(data_dir, Queue::Analytics).await?,
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
            analytics: SqliteDatabase::open_read_only(data_dir, Queue::Analytics).await?,
        })
    }

    pub fn all(&self) -> [&SqliteDatabase; 6] {
        [
            &self.order,
            &self.inventory,
            &self.payment,
            &self.notification,
            &self.query,
            &self.analytics,
        ]
    }

    pub fn get(&self, service: Queue) -> &SqliteDatabase {
        match service {
            Queue::Order => &self.order,
            Queue::Inventory => &self.inventory,
            Queue::Payment => &self.payment,
            Queue::Notification => &self.notification,
            Queue::Query => &self.query,
            Queue::Analytics => &self.analytics,
        }
    }

    pub async fn close(&self) {
        for database in self.all() {
            database.close().await;
        }
    }
}
