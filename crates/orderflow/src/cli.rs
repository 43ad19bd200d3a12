//! The command line: `orderflow run`, and client commands against a running server.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{Backends, RunConfig, ServeConfig};
use crate::scaled::ServiceName;

/// Event-driven order processing.
#[derive(Debug, Parser)]
#[command(
    name = "orderflow",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Without a command, `orderflow` runs the system as `orderflow run` would.
    #[command(flatten)]
    pub run: RunConfig,
}

/// Loads the configuration file named by `ORDERFLOW_CONFIG`, if any: `KEY=VALUE` lines of the
/// variables every command reads. Variables already set, and flags, take precedence over it.
///
/// # Errors
/// When the file cannot be read or a line is not `KEY=VALUE`.
pub fn load_config_file() -> anyhow::Result<()> {
    if let Ok(path) = std::env::var("ORDERFLOW_CONFIG") {
        dotenvy::from_path(&path)
            .map_err(|error| anyhow::anyhow!("read configuration file {path}: {error}"))?;
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every service in this process (embedded mode, SQLite, by default).
    Run(RunConfig),
    /// Run some services as one process of a scaled-out installation (PostgreSQL, RabbitMQ,
    /// Redis); `gateway` serves the public API and routes it to the others.
    Serve {
        /// The services to run here.
        #[arg(value_enum, required = true)]
        services: Vec<ServiceName>,
        #[command(flatten)]
        config: ServeConfig,
    },
    /// Create the database if needed and apply every service's migrations.
    Migrate {
        #[command(flatten)]
        backends: Backends,
    },
    /// Place, read, list and cancel orders on a running server.
    Order {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        token: TokenArg,
        #[command(subcommand)]
        command: OrderCommand,
    },
    /// Mint a customer token (HS256, with the server's JWT secret) for local use; prints it.
    Token(crate::identity::TokenArgs),
    /// Check the invariants (DESIGN.md §6) against the service databases, embedded or
    /// scaled out: exit 0 when they hold, 1 with every violation listed, 2 when the databases
    /// could not be checked.
    Verify(crate::verify::VerifyArgs),
    /// The analytics archive: `list` its files, `verify` that every event the analytics
    /// database kept is archived exactly once (exit codes as `verify`).
    Archive(crate::archive::ArchiveArgs),
    /// Load a running server with orders and report throughput and latencies.
    Bench(crate::bench::BenchArgs),
    /// Write N finished orders in bulk into an installation that is not running (embedded, or
    /// scaled out with `--database-url`), as its services would have written them.
    Seed(crate::seed::SeedArgs),
    /// List and replay dead letters on a running server.
    Dlq {
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        admin: AdminArgs,
        #[command(subcommand)]
        command: DlqCommand,
    },
}

/// Where the server is.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerArgs {
    /// Base URL of the Orderflow API.
    #[arg(
        long,
        global = true,
        env = "ORDERFLOW_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,
}

/// Who the client commands act as.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArg {
    /// Bearer token: a customer token (`orderflow token`), to list and cancel that customer's
    /// orders, or the admin token, for every order.
    #[arg(long, global = true, env = "ORDERFLOW_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// How to authenticate as an administrator.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Admin token; read from `<data dir>/admin-token` when not given.
    #[arg(
        long,
        global = true,
        env = "ORDERFLOW_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Data directory of an embedded server, to read its admin token from.
    #[arg(
        long,
        global = true,
        env = "ORDERFLOW_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Place an order: `--item product-002:5` (repeatable).
    Place {
        /// The customer's email.
        #[arg(long)]
        email: String,
        /// `PRODUCT[:QUANTITY]`, repeatable; quantity defaults to 1.
        #[arg(long = "item", required = true)]
        items: Vec<String>,
        /// Test card token, e.g. `tok_visa` or `tok_chargeDeclined`.
        #[arg(long)]
        payment_token: Option<String>,
        /// Idempotency key: the same key and order are accepted once.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Wait until the order is completed or cancelled.
        #[arg(long)]
        wait: bool,
    },
    /// Show one order.
    Get { id: String },
    /// List orders, newest first.
    List {
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Cancel an order that is not completed.
    Cancel { id: String },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Show every dead letter with its error.
    List,
    /// Put a dead letter back on its queue.
    Replay { id: String },
    /// Delete a dead letter for good.
    Discard { id: String },
}
