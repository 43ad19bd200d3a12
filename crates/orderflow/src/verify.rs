//! `orderflow verify`: opens every service's database read-only with the adapters of its mode
//! and runs the invariant checks of the `verify` crate over them. The command prints the
//! report (text, or JSON with `--json`) and exits 0 when every invariant holds, 1 with the
//! violations listed, 2 when the databases could not be checked.
//!
//! [`verify_embedded`] and [`verify_scaled`] return the report, for tests and the bench.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use contracts::Queue;
use store_postgres::{PgDatabase, PgInventoryStore, PgOrderStore, PgPaymentStore, PgQueryStore};
use store_sqlite::{
    Databases, SqliteInventoryStore, SqliteOrderStore, SqlitePaymentStore, SqliteQueryStore,
    SqliteQueue,
};
use transport_amqp::{AmqpSettings, AmqpTransport};

use ::verify::{DeadLetterSource, Sources};
pub use ::verify::{Kind, Options, Report, Violation};

/// What `orderflow verify` checks, and how patiently.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Data directory of the embedded installation to check (unless `--database-url` is
    /// given). A server may be running on it: verify only reads.
    #[arg(long, env = "ORDERFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Check a scaled-out installation instead: every service's schema in this PostgreSQL
    /// database.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,

    /// RabbitMQ of the scaled-out installation, to list its dead letters; without it they
    /// are not checked.
    #[arg(long, env = "AMQP_URL", value_name = "URL")]
    pub amqp_url: Option<String>,

    /// Prefix of the installation's exchange and queue names.
    #[arg(long, env = "ORDERFLOW_AMQP_PREFIX", default_value = "")]
    pub amqp_prefix: String,

    /// Seconds past its step's deadline before a waiting order counts as stuck.
    #[arg(long, default_value_t = 10)]
    pub grace_secs: u64,

    /// Seconds an order must have been quiet before its compensations, sale and view must
    /// have landed.
    #[arg(long, default_value_t = 5)]
    pub settle_secs: u64,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl VerifyArgs {
    fn options(&self) -> Options {
        Options {
            deadline_grace: Duration::from_secs(self.grace_secs),
            settle: Duration::from_secs(self.settle_secs),
            ..Options::default()
        }
    }
}

/// Where a scaled-out installation parks its dead letters.
#[derive(Debug, Clone)]
pub struct Broker {
    pub url: String,
    pub prefix: String,
}

/// How `orderflow verify` ended, as its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Clean = 0,
    Violations = 1,
    CouldNotCheck = 2,
}

/// Verifies the embedded installation in `data_dir`, whose databases must exist. A server
/// may be running on them.
///
/// # Errors
/// When a database is missing or cannot be read.
pub async fn verify_embedded(data_dir: &Path, options: &Options) -> anyhow::Result<Report> {
    let databases = Databases::open_read_only(data_dir).await?;
    let sources = Sources {
        orders: Arc::new(SqliteOrderStore::new(databases.order.clone())),
        inventory: Arc::new(SqliteInventoryStore::new(databases.inventory.clone())),
        payments: Arc::new(SqlitePaymentStore::new(databases.payment.clone())),
        read_model: Arc::new(SqliteQueryStore::new(databases.query.clone())),
        dead_letters: DeadLetterSource::Listed(Arc::new(SqliteQueue::new(databases.clone()))),
    };
    let report = ::verify::verify(&sources, options).await;
    databases.close().await;
    Ok(report?)
}

/// Verifies the scaled-out installation whose services keep their schemas in the database at
/// `database_url`; its dead letters too when `broker` is given.
///
/// # Errors
/// When a schema is missing, or a database or the broker cannot be read.
pub async fn verify_scaled(
    database_url: &str,
    broker: Option<&Broker>,
    options: &Options,
) -> anyhow::Result<Report> {
    let connect = |service| PgDatabase::connect_read_only(database_url, service);
    let schemas = [
        connect(Queue::Order).await?,
        connect(Queue::Inventory).await?,
        connect(Queue::Payment).await?,
        connect(Queue::Query).await?,
    ];
    let [order, inventory, payment, query] = schemas.clone();
    let (dead_letters, transport) = match broker {
        Some(broker) => {
            let settings = AmqpSettings {
                prefix: broker.prefix.clone(),
                // Declare no retry tiers: verify consumes nothing.
                queues: vec![],
                ..AmqpSettings::default()
            };
            let transport = AmqpTransport::connect(&broker.url, settings).await?;
            let listed = DeadLetterSource::Listed(Arc::new(transport.clone()));
            (listed, Some(transport))
        }
        None => (
            DeadLetterSource::NotChecked("no AMQP_URL given".into()),
            None,
        ),
    };
    let sources = Sources {
        orders: Arc::new(PgOrderStore::new(order)),
        inventory: Arc::new(PgInventoryStore::new(inventory)),
        payments: Arc::new(PgPaymentStore::new(payment)),
        read_model: Arc::new(PgQueryStore::new(query)),
        dead_letters,
    };
    let report = ::verify::verify(&sources, options).await;
    for schema in &schemas {
        schema.close().await;
    }
    if let Some(transport) = transport {
        transport.disconnect().await;
    }
    Ok(report?)
}

/// Runs `orderflow verify`: checks, prints the report, and says how it ended.
pub async fn run(args: &VerifyArgs) -> Outcome {
    let options = args.options();
    let checked = match &args.database_url {
        Some(url) => {
            let broker = args.amqp_url.as_ref().map(|url| Broker {
                url: url.clone(),
                prefix: args.amqp_prefix.clone(),
            });
            verify_scaled(url, broker.as_ref(), &options).await
        }
        None => verify_embedded(&args.data_dir, &options).await,
    };
    match checked {
        Ok(report) => {
            if args.json {
                print_json(&report);
            } else {
                print!("{report}");
            }
            if report.is_clean() {
                Outcome::Clean
            } else {
                Outcome::Violations
            }
        }
        Err(error) => {
            let error = format!("{error:#}");
            if args.json {
                print_json(&serde_json::json!({ "error": error }));
            }
            eprintln!("orderflow verify could not check the databases: {error}");
            Outcome::CouldNotCheck
        }
    }
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("cannot write the report as JSON: {error}"),
    }
}
