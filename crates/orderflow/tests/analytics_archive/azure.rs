//! The archive in Azure Blob Storage, on a real Azurite (started by `scripts/ensure-azurite`;
//! these tests fail, never skip, when it cannot be): the archiver's loop writes every kept
//! event once, and the real binary's `orderflow archive verify` and `archive list`, given
//! `BLOB_URL=azure://…` and the emulator's settings, find each event exactly once. Each test has
//! a container of its own, deleted at the end.

use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use analytics_service::AnalyticsService;
use analytics_service::archive::{ArchiveSettings, run_archiver, verify_archive};
use blob_object_store::ObjectBlobStore;
use contracts::Queue;
use serde_json::Value;
use store::analytics::{AnalyticsStore as _, BlobStore as _};
use store_sqlite::{SqliteAnalyticsStore, SqliteDatabase};
use testkit::azurite::{Azurite, Container};
use tokio_util::sync::CancellationToken;
use transport::Handler as _;

use super::{DiesAfterWriting, events, settings};

/// Where the archive goes in the test's container.
const PREFIX: &str = "orderflow/archive";

struct AzureApp {
    service: Arc<AnalyticsService>,
    store: Arc<SqliteAnalyticsStore>,
    blobs: Arc<ObjectBlobStore>,
    azurite: Azurite,
    container: Container,
    dir: tempfile::TempDir,
}

async fn spawn_app(purpose: &str) -> AzureApp {
    let azurite = Azurite::ensure();
    let container = azurite.container(purpose);
    let dir = tempfile::tempdir().expect("a temporary data dir");
    let database = SqliteDatabase::open(dir.path(), Queue::Analytics)
        .await
        .expect("open the analytics database");
    let store = Arc::new(SqliteAnalyticsStore::new(database));
    let blobs = Arc::new(
        ObjectBlobStore::from_url_with_vars(&container.blob_url(PREFIX), azurite.vars())
            .expect("the archive on Azurite"),
    );
    AzureApp {
        service: Arc::new(AnalyticsService::new(store.clone())),
        store,
        blobs,
        azurite,
        container,
        dir,
    }
}

impl AzureApp {
    /// `orderflow archive <command> --json` on the test's data directory and container, as an
    /// operator runs it: `BLOB_URL` and the emulator's settings in the environment, nothing else.
    async fn archive_command(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
            .arg("archive")
            .args(args)
            .arg("--json")
            .arg("--data-dir")
            .arg(self.dir.path())
            .env_clear()
            .env("BLOB_URL", self.container.blob_url(PREFIX))
            .envs(self.azurite.emulator_env())
            .output()
            .await
            .expect("run orderflow archive")
    }
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}: {}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[tokio::test]
async fn the_archiver_writes_to_azurite_and_archive_verify_finds_every_event_once() {
    let app = spawn_app("archiver").await;
    let kept = events(25);
    for event in &kept {
        app.service.handle(event).await.expect("counted");
    }
    let shutdown = CancellationToken::new();
    let archiver = tokio::spawn(run_archiver(
        app.service.clone(),
        app.blobs.clone(),
        ArchiveSettings {
            every: Duration::from_millis(50),
            ..settings(10, Duration::from_secs(3600))
        },
        shutdown.clone(),
    ));
    // Two full files are cut while it runs; the last five wait for the flush at shutdown.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while app.blobs.list("events").await.expect("list").len() < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the archiver did not cut two files within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    archiver.await.expect("the archiver stops");

    let objects = app.blobs.list("events").await.expect("list");
    assert_eq!(objects.len(), 3, "{objects:?}");
    let report = verify_archive(app.store.as_ref(), app.blobs.as_ref(), 0)
        .await
        .expect("verify");
    assert!(report.is_clean(), "{report}");
    assert_eq!((report.files, report.archived), (3, 25));

    let verified = json(&app.archive_command(&["verify", "--grace-secs", "0"]).await);
    assert_eq!(verified["files"], 3, "{verified}");
    assert_eq!(verified["archived"], 25, "{verified}");
    assert_eq!(verified["violations"], Value::Array(vec![]), "{verified}");

    let listed = json(&app.archive_command(&["list"]).await);
    let mut listed = listed.as_array().expect("a list of files").clone();
    listed.sort_by_key(|file| file["name"].as_str().unwrap_or_default().to_owned());
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (file, object) in listed.iter().zip(&objects) {
        assert_eq!(file["name"], object.path.as_str(), "{file}");
        assert_eq!(file["written"], true, "{file}");
        assert_eq!(file["bytes"], object.size, "{file}");
    }
    assert_eq!(
        listed
            .iter()
            .map(|file| &file["events"])
            .collect::<Vec<_>>(),
        [10, 10, 5]
    );
}

#[tokio::test]
async fn a_file_written_to_azure_but_not_recorded_is_rewritten_under_its_name_not_twice() {
    let app = spawn_app("crash").await;
    for event in &events(6) {
        app.service.handle(event).await.expect("counted");
    }
    let dying = DiesAfterWriting {
        inner: app.blobs.clone(),
        died: AtomicBool::new(false),
    };
    let failed = app
        .service
        .archive(&dying, &settings(10, Duration::ZERO), true)
        .await;
    assert!(failed.is_err(), "the write was not recorded");
    let written = app.blobs.list("events").await.expect("list");
    assert_eq!(written.len(), 1);

    let round = app
        .service
        .archive(app.blobs.as_ref(), &settings(10, Duration::ZERO), true)
        .await
        .expect("the next round");
    assert_eq!((round.files, round.events), (1, 6), "rewritten");
    assert_eq!(
        app.blobs.list("events").await.expect("list"),
        written,
        "the same one object, the same size"
    );
    assert!(
        app.store
            .archive_files()
            .await
            .expect("files")
            .iter()
            .all(|file| file.written)
    );
    let verified = json(&app.archive_command(&["verify", "--grace-secs", "0"]).await);
    assert_eq!(verified["archived"], 6, "{verified}");
    assert_eq!(verified["violations"], Value::Array(vec![]), "{verified}");
}

#[tokio::test]
async fn archive_verify_on_azure_without_an_account_says_which_setting_is_missing() {
    let app = spawn_app("settings").await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args(["archive", "verify", "--data-dir"])
        .arg(app.dir.path())
        .env_clear()
        .env("BLOB_URL", app.container.blob_url(PREFIX))
        .output()
        .await
        .expect("run orderflow archive verify");
    assert_eq!(output.status.code(), Some(2), "could not check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AZURE_STORAGE_ACCOUNT_NAME"), "{stderr}");
}
