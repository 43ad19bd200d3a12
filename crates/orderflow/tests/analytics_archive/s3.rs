//! The archive in S3, on a real S3-compatible server, moto's (started by `scripts/ensure-moto`;
//! these tests fail, never skip, when it cannot be): the archiver's loop writes every kept
//! event once, and the real binary's `orderflow archive verify` and `archive list`, given
//! `BLOB_URL=s3://…` and the `AWS_*` settings in its environment, find each event exactly once.
//! Each test has a bucket of its own, deleted at the end.

use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use analytics_service::AnalyticsService;
use analytics_service::archive::{ArchiveSettings, run_archiver, verify_archive};
use blob_object_store::ObjectBlobStore;
use contracts::Queue;
use serde_json::Value;
use store::analytics::BlobStore as _;
use store_sqlite::{SqliteAnalyticsStore, SqliteDatabase};
use testkit::moto::{Bucket, Moto};
use tokio_util::sync::CancellationToken;
use transport::Handler as _;

use super::{events, settings};

/// Where the archive goes in the test's bucket.
const PREFIX: &str = "orderflow/archive";

struct S3App {
    service: Arc<AnalyticsService>,
    store: Arc<SqliteAnalyticsStore>,
    blobs: Arc<ObjectBlobStore>,
    moto: Moto,
    bucket: Bucket,
    dir: tempfile::TempDir,
}

async fn spawn_app(purpose: &str) -> S3App {
    let moto = Moto::ensure();
    let bucket = moto.bucket(purpose);
    let dir = tempfile::tempdir().expect("a temporary data dir");
    let database = SqliteDatabase::open(dir.path(), Queue::Analytics)
        .await
        .expect("open the analytics database");
    let store = Arc::new(SqliteAnalyticsStore::new(database));
    let blobs = Arc::new(
        ObjectBlobStore::from_url_with_vars(&bucket.blob_url(PREFIX), moto.vars())
            .expect("the archive on moto"),
    );
    S3App {
        service: Arc::new(AnalyticsService::new(store.clone())),
        store,
        blobs,
        moto,
        bucket,
        dir,
    }
}

impl S3App {
    /// `orderflow archive <command>` on the test's data directory and bucket, as an operator
    /// runs it: `BLOB_URL` and `settings` in the environment, nothing else.
    async fn archive_command(&self, args: &[&str], settings: Vec<(String, String)>) -> Output {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
            .arg("archive")
            .args(args)
            .arg("--data-dir")
            .arg(self.dir.path())
            .env_clear()
            .env("BLOB_URL", self.bucket.blob_url(PREFIX))
            .envs(settings)
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
async fn the_archiver_writes_to_s3_and_archive_verify_finds_every_event_once() {
    let app = spawn_app("archiver").await;
    for event in &events(25) {
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

    let verified = json(
        &app.archive_command(&["verify", "--grace-secs", "0", "--json"], app.moto.vars())
            .await,
    );
    assert_eq!(verified["files"], 3, "{verified}");
    assert_eq!(verified["archived"], 25, "{verified}");
    assert_eq!(verified["violations"], Value::Array(vec![]), "{verified}");

    let listed = json(
        &app.archive_command(&["list", "--json"], app.moto.vars())
            .await,
    );
    let mut listed = listed.as_array().expect("a list of files").clone();
    listed.sort_by_key(|file| file["name"].as_str().unwrap_or_default().to_owned());
    assert_eq!(listed.len(), 3, "{listed:?}");
    for (file, object) in listed.iter().zip(&objects) {
        assert_eq!(file["name"], object.path.as_str(), "{file}");
        assert_eq!(file["written"], true, "{file}");
        assert_eq!(file["bytes"], object.size, "{file}");
    }
}

#[tokio::test]
async fn archive_verify_on_s3_without_keys_says_which_setting_is_missing() {
    let app = spawn_app("settings").await;
    let endpoint_only: Vec<(String, String)> = app
        .moto
        .vars()
        .into_iter()
        .filter(|(key, _)| !key.starts_with("AWS_ACCESS_KEY") && !key.starts_with("AWS_SECRET"))
        .collect();
    let output = app.archive_command(&["verify"], endpoint_only).await;
    assert_eq!(output.status.code(), Some(2), "could not check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("AWS_ACCESS_KEY_ID"), "{stderr}");
}
