//! The analytics archive on real parts: the SQLite analytics store and a local directory
//! through `object_store`. Files are cut by size, by age and on flush; every kept event lands
//! in exactly one file; a file written but not recorded (a crash between the two) is written
//! again under the same name, never as a second file. The same on Azure Blob Storage (a real
//! Azurite), with the binary's `archive verify` and `archive list`: `azure`; and on S3 (moto's
//! S3-compatible server): `s3`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use analytics_service::AnalyticsService;
use analytics_service::archive::{ArchiveSettings, decode, verify_archive};
use async_trait::async_trait;
use blob_object_store::ObjectBlobStore;
use contracts::value::OrderId;
use contracts::{Envelope, Message, Queue, StockReserved};
use store::analytics::{AnalyticsStore as _, BlobEntry, BlobStore};
use store_sqlite::{SqliteAnalyticsStore, SqliteDatabase};
use tempfile::TempDir;
use time::OffsetDateTime;
use transport::Handler as _;
use uuid::Uuid;

mod azure;
mod s3;

struct TestApp {
    service: AnalyticsService,
    store: Arc<SqliteAnalyticsStore>,
    blobs: Arc<ObjectBlobStore>,
    _dir: TempDir,
}

async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary data dir");
    let database = SqliteDatabase::open(dir.path(), Queue::Analytics)
        .await
        .expect("open the analytics database");
    let store = Arc::new(SqliteAnalyticsStore::new(database));
    let blobs = Arc::new(ObjectBlobStore::local(&dir.path().join("archive")).expect("archive dir"));
    TestApp {
        service: AnalyticsService::new(store.clone()),
        store,
        blobs,
        _dir: dir,
    }
}

/// `count` events of one hour (a minute apart from 10:00 today), as the stream delivers them.
fn events(count: usize) -> Vec<Envelope> {
    let hour = OffsetDateTime::now_utc()
        .replace_minute(0)
        .and_then(|at| at.replace_second(0))
        .expect("an hour");
    (0..count)
        .map(|n| {
            let message = Message::from(StockReserved {
                order_id: OrderId::new(Uuid::now_v7()),
            });
            let minute = i64::try_from(n % 60).expect("minute");
            Envelope::build(Uuid::now_v7(), &message).at(hour + time::Duration::minutes(minute))
        })
        .collect()
}

fn settings(max_events: usize, max_age: Duration) -> ArchiveSettings {
    ArchiveSettings {
        max_events,
        max_age,
        ..ArchiveSettings::default()
    }
}

impl TestApp {
    async fn deliver(&self, events: &[Envelope]) {
        for event in events {
            self.service.handle(event).await.expect("counted");
        }
    }

    /// Every archived event id with its file, after checking that the ids are `kept`'s,
    /// each once.
    async fn archived_exactly(&self, kept: &[Envelope]) -> Vec<(Uuid, String)> {
        let archived = self.archived_ids().await;
        let mut expected: Vec<Uuid> = kept.iter().map(|e| e.message_id).collect();
        expected.sort();
        assert_eq!(
            archived.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            expected
        );
        archived
    }

    /// Every archived event id, with the file it was found in.
    async fn archived_ids(&self) -> Vec<(Uuid, String)> {
        let mut ids = Vec::new();
        for entry in self.blobs.list("events").await.expect("list") {
            let bytes = self
                .blobs
                .get(&entry.path)
                .await
                .expect("get")
                .expect("there");
            for envelope in decode(&bytes).expect("an archive file") {
                ids.push((envelope.message_id, entry.path.clone()));
            }
        }
        ids.sort();
        ids
    }
}

#[tokio::test]
async fn a_full_file_is_cut_by_size_and_the_rest_waits_until_flushed() {
    let app = spawn_app().await;
    let kept = events(25);
    app.deliver(&kept).await;
    let long = Duration::from_secs(3600);

    let round = app
        .service
        .archive(app.blobs.as_ref(), &settings(10, long), false)
        .await
        .expect("a round");
    assert_eq!((round.files, round.events), (2, 20), "two full files");
    let round = app
        .service
        .archive(app.blobs.as_ref(), &settings(10, long), false)
        .await
        .expect("a round");
    assert_eq!(round.files, 0, "five events are not a full file, nor old");

    let round = app
        .service
        .archive(app.blobs.as_ref(), &settings(10, long), true)
        .await
        .expect("the flush");
    assert_eq!((round.files, round.events), (1, 5));

    let archived = app.archived_exactly(&kept).await;
    let files: Vec<&String> = archived.iter().map(|(_, file)| file).collect();
    assert!(
        files
            .iter()
            .all(|file| file.starts_with("events/date=") && file.contains("/hour=")),
        "{files:?}"
    );
    let report = verify_archive(app.store.as_ref(), app.blobs.as_ref(), 0)
        .await
        .expect("verify");
    assert!(report.is_clean(), "{report}");
    assert_eq!((report.files, report.archived), (3, 25));
}

#[tokio::test]
async fn a_file_larger_than_a_claim_is_claimed_in_parts_and_written_whole() {
    let app = spawn_app().await;
    let kept = events(25);
    app.deliver(&kept).await;
    let in_parts = ArchiveSettings {
        claim_chunk: 3,
        ..settings(10, Duration::from_secs(3600))
    };

    let round = app
        .service
        .archive(app.blobs.as_ref(), &in_parts, true)
        .await
        .expect("the flush");

    assert_eq!((round.files, round.events), (3, 25));
    let files = app.store.archive_files().await.expect("list the files");
    let mut counts: Vec<(u64, bool)> = files.iter().map(|f| (f.events, f.written)).collect();
    counts.sort_unstable();
    assert_eq!(counts, [(5, true), (10, true), (10, true)]);
    app.archived_exactly(&kept).await;
    let report = verify_archive(app.store.as_ref(), app.blobs.as_ref(), 0)
        .await
        .expect("verify");
    assert!(report.is_clean(), "{report}");
}

#[tokio::test]
async fn a_file_is_cut_once_its_first_event_is_older_than_the_age_limit() {
    let app = spawn_app().await;
    app.deliver(&events(3)).await;
    let round = app
        .service
        .archive(
            app.blobs.as_ref(),
            &settings(10, Duration::from_secs(3600)),
            false,
        )
        .await
        .expect("a round");
    assert_eq!(round.files, 0, "young and small");
    let round = app
        .service
        .archive(app.blobs.as_ref(), &settings(10, Duration::ZERO), false)
        .await
        .expect("a round");
    assert_eq!((round.files, round.events), (1, 3), "old enough");
}

#[tokio::test]
async fn a_replayed_event_is_archived_once() {
    let app = spawn_app().await;
    let kept = events(4);
    app.deliver(&kept).await;
    app.service
        .archive(app.blobs.as_ref(), &settings(10, Duration::ZERO), true)
        .await
        .expect("archived");
    app.deliver(&kept).await;
    let round = app
        .service
        .archive(app.blobs.as_ref(), &settings(10, Duration::ZERO), true)
        .await
        .expect("nothing new");
    assert_eq!(round.files, 0);
    assert_eq!(app.archived_ids().await.len(), 4);
    assert_eq!(app.store.event_count().await.expect("count"), 4);
}

/// Writes each object, then fails the first time: as a process killed after its write and
/// before its record.
struct DiesAfterWriting {
    inner: Arc<ObjectBlobStore>,
    died: AtomicBool,
}

#[async_trait]
impl BlobStore for DiesAfterWriting {
    async fn put(&self, path: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.inner.put(path, bytes).await?;
        if self.died.swap(true, Ordering::SeqCst) {
            Ok(())
        } else {
            anyhow::bail!("killed after writing {path}")
        }
    }

    async fn get(&self, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        self.inner.get(path).await
    }

    async fn list(&self, prefix: &str) -> anyhow::Result<Vec<BlobEntry>> {
        self.inner.list(prefix).await
    }
}

#[tokio::test]
async fn a_file_written_but_not_recorded_is_written_again_under_its_name_not_twice() {
    let app = spawn_app().await;
    let kept = events(6);
    app.deliver(&kept).await;
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
    assert_eq!(written.len(), 1, "the file is there");
    let first = app.blobs.get(&written[0].path).await.expect("get");
    let recorded = app.store.archive_files().await.expect("files");
    assert_eq!(recorded.len(), 1);
    assert!(!recorded[0].written, "claimed, not recorded as written");

    // Events that arrive meanwhile go to a file of their own, never into the claimed one.
    let later = events(2);
    app.deliver(&later).await;
    let round = app
        .service
        .archive(app.blobs.as_ref(), &settings(10, Duration::ZERO), true)
        .await
        .expect("the next round");
    assert_eq!(
        (round.files, round.events),
        (2, 8),
        "rewritten, and the new one"
    );

    let files = app.blobs.list("events").await.expect("list");
    assert_eq!(files.len(), 2);
    let recorded = app.store.archive_files().await.expect("files");
    assert!(recorded.iter().all(|file| file.written), "{recorded:?}");
    assert!(
        files.iter().any(|file| file.path == written[0].path),
        "same name"
    );
    assert_eq!(
        app.blobs.get(&written[0].path).await.expect("get"),
        first,
        "same bytes"
    );
    let archived = app.archived_ids().await;
    assert_eq!(archived.len(), 8, "each event once: {archived:?}");
    let report = verify_archive(app.store.as_ref(), app.blobs.as_ref(), 0)
        .await
        .expect("verify");
    assert!(report.is_clean(), "{report}");
}

#[tokio::test]
async fn verify_reports_an_event_in_two_files_and_a_file_nobody_recorded() {
    let app = spawn_app().await;
    let kept = events(3);
    app.deliver(&kept).await;
    app.service
        .archive(app.blobs.as_ref(), &settings(10, Duration::ZERO), true)
        .await
        .expect("archived");
    let file = app.blobs.list("events").await.expect("list").remove(0);
    let bytes = app
        .blobs
        .get(&file.path)
        .await
        .expect("get")
        .expect("there");
    let copy = file.path.replace(".ndjson.gz", "-copy.ndjson.gz");
    app.blobs.put(&copy, bytes).await.expect("a stray copy");

    let report = verify_archive(app.store.as_ref(), app.blobs.as_ref(), 0)
        .await
        .expect("verify");
    assert!(!report.is_clean());
    assert!(
        report
            .violations
            .iter()
            .any(|v| v.contains("does not know")),
        "{report}"
    );
    assert_eq!(
        report
            .violations
            .iter()
            .filter(|v| v.contains("archived 2 times"))
            .count(),
        3,
        "{report}"
    );
}
