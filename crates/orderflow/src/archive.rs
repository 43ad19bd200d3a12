//! `orderflow archive list|verify`: the analytics archive's files, and the check that every
//! event the analytics database kept is archived exactly once. Opens the analytics database
//! read-only (embedded: `<data dir>/analytics.db`; scaled out: the `analytics_service` schema
//! at `--database-url`) and the blob store (`BLOB_URL`, else `<data dir>/archive` embedded and
//! `./archive` scaled out, as the server does). Exit codes as `orderflow verify`: 0 clean, 1
//! violations, 2 could not check.

use std::path::PathBuf;
use std::sync::Arc;

use analytics_service::archive::{
    ARCHIVE_PREFIX, RebuildReport, rebuild_from_archive, verify_archive,
};
use blob_object_store::ObjectBlobStore;
use contracts::Queue;
use store::analytics::{AnalyticsStore, BlobStore};
use store_postgres::{PgAnalyticsStore, PgDatabase};
use store_sqlite::{SqliteAnalyticsStore, SqliteDatabase};

use crate::verify::Outcome;

/// `orderflow archive`.
#[derive(Debug, Clone, clap::Args)]
pub struct ArchiveArgs {
    #[command(subcommand)]
    pub command: ArchiveCommand,

    /// Data directory of the embedded installation (unless `--database-url` is given).
    // Ids of their own: the top level's `run` flags have these names too (with defaults), and a
    // global flag sharing an id with them took their values (`--database-url` as
    // postgres://…, whatever was given).
    #[arg(
        long,
        id = "archive_data_dir",
        value_name = "DIR",
        global = true,
        env = "ORDERFLOW_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,

    /// A scaled-out installation instead: the analytics schema in this PostgreSQL database.
    #[arg(long, id = "archive_database_url", global = true, value_name = "URL")]
    pub database_url: Option<String>,

    /// Where the archive's files are, as the server was told.
    #[arg(
        long,
        id = "archive_blob_url",
        global = true,
        env = "BLOB_URL",
        value_name = "URL"
    )]
    pub blob_url: Option<String>,

    /// Print JSON.
    #[arg(long, global = true)]
    pub json: bool,
}

/// What to do with the archive.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ArchiveCommand {
    /// Every archive file: its name, events, whether it was written, its size in storage.
    List,
    /// Check that every kept event is archived exactly once.
    Verify {
        /// Seconds an event may wait for its file before it counts as missing.
        #[arg(long, default_value_t = 120)]
        grace_secs: u64,
    },
    /// Rebuild the aggregates from the archive alone, in memory, and compare them with the
    /// analytics database's: every counter and order that differs is listed. Run it when
    /// every event is archived (after a graceful stop, or a minute after the last order);
    /// while some are not, it says how many and exits 2.
    Rebuild,
}

/// One line of `archive list`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ListedFile {
    pub name: String,
    pub events: u64,
    pub written: bool,
    /// Its size in blob storage; `None` when it is not there.
    pub bytes: Option<u64>,
}

/// Runs the command; its exit code.
pub async fn run(args: &ArchiveArgs) -> Outcome {
    match execute(args).await {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("cannot check the archive: {error:#}");
            Outcome::CouldNotCheck
        }
    }
}

async fn execute(args: &ArchiveArgs) -> anyhow::Result<Outcome> {
    let (store, blobs) = open(args).await?;
    match args.command {
        ArchiveCommand::List => {
            let files = list(store.as_ref(), blobs.as_ref()).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&files)?);
            } else {
                for file in &files {
                    let bytes = file
                        .bytes
                        .map_or_else(|| "absent".to_owned(), |bytes| format!("{bytes} bytes"));
                    let state = if file.written { "written" } else { "claimed" };
                    println!("{}  {} events  {state}  {bytes}", file.name, file.events);
                }
                println!("{} files", files.len());
            }
            Ok(Outcome::Clean)
        }
        ArchiveCommand::Verify { grace_secs } => {
            let grace_ms = i64::try_from(grace_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
            let report = verify_archive(store.as_ref(), blobs.as_ref(), grace_ms).await?;
            print_report(&report, args.json)?;
            Ok(if report.is_clean() {
                Outcome::Clean
            } else {
                Outcome::Violations
            })
        }
        ArchiveCommand::Rebuild => {
            let report = rebuild_from_archive(store.as_ref(), blobs.as_ref()).await?;
            print_report(&report, args.json)?;
            Ok(rebuild_outcome(&report))
        }
    }
}

/// Clean when the aggregates equal the rebuild; a difference while events still wait for their
/// file proves nothing, so it is "could not check" then.
fn rebuild_outcome(report: &RebuildReport) -> Outcome {
    if report.duplicates > 0 {
        Outcome::Violations
    } else if report.differences.is_empty() {
        Outcome::Clean
    } else if report.pending > 0 {
        eprintln!(
            "{} events are not archived yet, so the stored aggregates count events the archive \
             lacks: run again once they are (after a graceful stop, or a minute later)",
            report.pending
        );
        Outcome::CouldNotCheck
    } else {
        Outcome::Violations
    }
}

fn print_report(
    report: &(impl serde::Serialize + std::fmt::Display),
    json: bool,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print!("{report}");
    }
    Ok(())
}

/// The archive's files as the analytics database records them, with their size in storage.
///
/// # Errors
/// When the database or the store cannot be read.
pub async fn list(
    store: &dyn AnalyticsStore,
    blobs: &dyn BlobStore,
) -> anyhow::Result<Vec<ListedFile>> {
    let sizes: std::collections::BTreeMap<String, u64> = blobs
        .list(ARCHIVE_PREFIX)
        .await?
        .into_iter()
        .map(|entry| (entry.path, entry.size))
        .collect();
    Ok(store
        .archive_files()
        .await?
        .into_iter()
        .map(|file| ListedFile {
            bytes: sizes.get(&file.name).copied(),
            name: file.name,
            events: file.events,
            written: file.written,
        })
        .collect())
}

/// The analytics database, read-only, and the blob store of the installation `args` names.
///
/// # Errors
/// When the database does not exist or the blob URL cannot be opened.
pub async fn open(
    args: &ArchiveArgs,
) -> anyhow::Result<(Arc<dyn AnalyticsStore>, Arc<dyn BlobStore>)> {
    let store: Arc<dyn AnalyticsStore> = match &args.database_url {
        Some(url) => Arc::new(PgAnalyticsStore::new(
            PgDatabase::connect_read_only(url, Queue::Analytics).await?,
        )),
        None => Arc::new(SqliteAnalyticsStore::new(
            SqliteDatabase::open_read_only(&args.data_dir, Queue::Analytics).await?,
        )),
    };
    let blobs = match (&args.blob_url, &args.database_url) {
        (Some(url), _) => ObjectBlobStore::from_url(url)?,
        (None, None) => ObjectBlobStore::local(&args.data_dir.join("archive"))?,
        (None, Some(_)) => ObjectBlobStore::local(std::path::Path::new("./archive"))?,
    };
    Ok((store, Arc::new(blobs)))
}
