//! `orderflow seed --orders N`: fills an installation with N finished orders, in bulk, so that
//! it can be measured and tried as it will be after months of trade.
//!
//! Each order is played through the saga's own decisions and each service's handling without
//! I/O ([`simulation`]), then written through the store ports the services use ([`writer`]),
//! in large transactions: what lands is what the services would have written, and
//! `orderflow verify` finds it clean. The mix ([`mix`]): most orders completed, some cancelled
//! because the card was declined, some because they asked for more than any stock; a few
//! thousand customers. The seed restocks products as its orders need, as an operator would,
//! and tops every product up to its level before seeding at the end, so the stock left to
//! sell is what it was. Then the databases' statistics are brought up to date (`ANALYZE`,
//! `VACUUM ANALYZE` on PostgreSQL).
//!
//! Embedded, it takes the data directory's lock ([`crate::data_dir_lock`]): it refuses a data
//! directory a running server holds. Scaled out, nothing stops the services from running: seed
//! an installation that is not taking orders.

mod maintenance;
mod mix;
mod simulation;
mod writer;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use contracts::Queue;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use inventory_service::InventoryService;
use order_domain::OrderStatus;
use order_service::OrderService;
use order_service::catalog::demo_stock;
use store_postgres::{
    PgDatabase, PgInventoryStore, PgNotificationStore, PgOrderStore, PgPaymentStore, PgQueryStore,
    PoolSettings,
};
use store_sqlite::{
    Databases, SqliteInventoryStore, SqliteNotificationStore, SqliteOrderStore, SqlitePaymentStore,
    SqliteQueryStore,
};

use crate::config::ServiceSettings;
use crate::data_dir_lock::DataDirLock;
use simulation::{SeededOrder, StockModel};
pub use writer::Stores;

/// What `orderflow seed` writes, and where.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// How many finished orders to write.
    #[arg(long)]
    pub orders: u64,

    /// Data directory of the embedded installation to seed (unless `--database-url` is
    /// given); no server may be running on it.
    #[arg(long, env = "ORDERFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Seed a scaled-out installation instead: every service's schema in this PostgreSQL
    /// database (created and migrated if needed).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// Orders written per transaction.
    #[arg(long, default_value_t = 2_000)]
    pub batch_size: usize,

    /// The orders are spread over this many days before now.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
}

/// What a seed wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    pub completed: u64,
    pub cancelled: u64,
    /// Emails sent, one per finished order.
    pub notifications: u64,
    /// How long writing took, statistics included.
    pub elapsed: Duration,
}

impl std::fmt::Display for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let orders = self.completed + self.cancelled;
        let seconds = self.elapsed.as_secs_f64();
        write!(
            f,
            "seeded {orders} orders ({} completed, {} cancelled, {} emails) in {seconds:.1} s \
             ({:.0} orders/s)",
            self.completed,
            self.cancelled,
            self.notifications,
            orders as f64 / seconds.max(f64::EPSILON)
        )
    }
}

/// How a seed runs, apart from where it writes.
#[derive(Clone, Copy, Debug)]
pub struct SeedOptions {
    pub orders: u64,
    pub batch_size: usize,
    pub days: u32,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Runs `orderflow seed`: writes, brings the statistics up to date, prints what it wrote.
///
/// # Errors
/// When the data directory is held by another process, a database cannot be opened, or a
/// write fails (the batches written before it stay).
pub async fn run(args: &SeedArgs) -> anyhow::Result<()> {
    let options = SeedOptions {
        orders: args.orders,
        batch_size: args.batch_size,
        days: args.days,
        progress: true,
    };
    let seeded = match &args.database_url {
        Some(url) => seed_scaled(url, &options).await?,
        None => seed_embedded(&args.data_dir, &options).await?,
    };
    println!("{seeded}");
    Ok(())
}

/// Seeds the embedded installation in `data_dir`, creating it if needed, under its lock.
///
/// # Errors
/// See [`run`].
pub async fn seed_embedded(
    data_dir: &std::path::Path,
    options: &SeedOptions,
) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    let _lock = DataDirLock::acquire(data_dir)?;
    let databases = Databases::open(data_dir).await?;
    let stores = Stores {
        orders: Arc::new(SqliteOrderStore::new(databases.order.clone())),
        inventory: Arc::new(SqliteInventoryStore::new(databases.inventory.clone())),
        payments: Arc::new(SqlitePaymentStore::new(databases.payment.clone())),
        notifications: Arc::new(SqliteNotificationStore::new(databases.notification.clone())),
        queries: Arc::new(SqliteQueryStore::new(databases.query.clone())),
    };
    let seeded = seed(&stores, options).await;
    databases.close().await;
    let seeded = seeded?;
    maintenance::analyze_sqlite(data_dir).await?;
    Ok(Seeded {
        elapsed: started.elapsed(),
        ..seeded
    })
}

/// Seeds the scaled-out installation whose services keep their schemas in `database_url`.
///
/// # Errors
/// See [`run`].
pub async fn seed_scaled(database_url: &str, options: &SeedOptions) -> anyhow::Result<Seeded> {
    let started = Instant::now();
    crate::scaled::create_database_if_missing(database_url).await?;
    let pool = PoolSettings {
        max_connections: 2,
        ..PoolSettings::default()
    };
    let connect = |service: Queue| async move {
        PgDatabase::connect_with(database_url, service, pool)
            .await
            .with_context(|| format!("open the {} schema", service.name()))
    };
    let schemas = [
        connect(Queue::Order).await?,
        connect(Queue::Inventory).await?,
        connect(Queue::Payment).await?,
        connect(Queue::Notification).await?,
        connect(Queue::Query).await?,
    ];
    let [order, inventory, payment, notification, query] = schemas.clone();
    let stores = Stores {
        orders: Arc::new(PgOrderStore::new(order)),
        inventory: Arc::new(PgInventoryStore::new(inventory)),
        payments: Arc::new(PgPaymentStore::new(payment)),
        notifications: Arc::new(PgNotificationStore::new(notification)),
        queries: Arc::new(PgQueryStore::new(query)),
    };
    let seeded = seed(&stores, options).await;
    for schema in &schemas {
        schema.close().await;
    }
    let seeded = seeded?;
    maintenance::vacuum_analyze_postgres(database_url).await?;
    Ok(Seeded {
        elapsed: started.elapsed(),
        ..seeded
    })
}

/// Writes `options.orders` finished orders into `stores`: the demo catalog and stock first,
/// as a first start would, then the orders in batches, then the stock topped up.
///
/// # Errors
/// When a store cannot be read or written.
pub async fn seed(stores: &Stores, options: &SeedOptions) -> anyhow::Result<Seeded> {
    let deadlines = ServiceSettings::default().saga_deadlines();
    let orders = OrderService::new(stores.orders.clone(), deadlines);
    orders.seed_demo_catalog().await.context("seed catalog")?;
    let inventory = InventoryService::new(stores.inventory.clone());
    inventory
        .seed_stock(&demo_stock()?)
        .await
        .context("seed stock")?;
    let catalog = orders.products().await.context("read the catalog")?;
    anyhow::ensure!(!catalog.is_empty(), "the catalog is empty");
    let levels = inventory.stock_levels().await.context("read the stock")?;
    let mut stock =
        StockModel::new((levels.into_iter()).map(|(sku, level)| (sku, i64::from(level.available))));
    let mix = mix::Mix::new(catalog, options.orders, options.days)?;

    let bar = progress_bar(options);
    let mut seeded = Seeded::default();
    let batch_size = options.batch_size.max(1) as u64;
    let mut next = 0;
    while next < options.orders {
        let end = (next + batch_size).min(options.orders);
        let batch = (next..end)
            .map(|n| simulation::simulate(&mix.order(n)?, &mut stock))
            .collect::<anyhow::Result<Vec<SeededOrder>>>()?;
        writer::write_batch(stores, &batch)
            .await
            .with_context(|| format!("write orders {next} to {end}"))?;
        for order in &batch {
            match order.status {
                Some(OrderStatus::Completed) => seeded.completed += 1,
                Some(OrderStatus::Cancelled) => seeded.cancelled += 1,
                status => anyhow::bail!("a seeded order ended {status:?}"),
            }
            seeded.notifications += order.notifications.len() as u64;
        }
        bar.inc(end - next);
        next = end;
    }
    writer::restock(stores.inventory.as_ref(), &stock.top_ups())
        .await
        .context("top the stock up")?;
    bar.finish_and_clear();
    Ok(seeded)
}

fn progress_bar(options: &SeedOptions) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(options.orders), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} orders ({per_sec}, {eta} left)",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
