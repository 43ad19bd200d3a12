//! The blob store contract suite (`testkit::blob_contract`) against the backends of
//! `ObjectBlobStore`: a local directory; Azure Blob Storage on a real Azurite (started by
//! `scripts/ensure-azurite`); S3 on a real S3-compatible server, moto's (started by
//! `scripts/ensure-moto`). A test fails, never skips, when its server cannot be started; each
//! check runs in a fresh container or bucket of its own, deleted at the end, under a prefix of
//! the `BLOB_URL`. Google Cloud Storage has unit tests only: no emulator of it that installs
//! from a registry serves the API as `object_store` calls it (see ARCHITECTURE.md).

use blob_object_store::ObjectBlobStore;
use store::analytics::BlobStore as _;
use testkit::azurite::{Azurite, Container};
use testkit::moto::{Bucket, Moto};

fn local() -> (ObjectBlobStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = ObjectBlobStore::local(&dir.path().join("archive")).expect("a local store");
    (store, dir)
}

/// A store on a new container of Azurite's, under `azure://<container>/orderflow/archive`.
fn azure(purpose: &str) -> (ObjectBlobStore, Container) {
    let azurite = Azurite::ensure();
    let container = azurite.container(purpose);
    let store = ObjectBlobStore::from_url_with_vars(
        &container.blob_url("orderflow/archive"),
        azurite.vars(),
    )
    .expect("a store on Azurite");
    (store, container)
}

/// A store on a new bucket of moto's, under `s3://<bucket>/orderflow/archive`.
fn s3(purpose: &str) -> (ObjectBlobStore, Bucket) {
    let moto = Moto::ensure();
    let bucket = moto.bucket(purpose);
    let store =
        ObjectBlobStore::from_url_with_vars(&bucket.blob_url("orderflow/archive"), moto.vars())
            .expect("a store on moto");
    (store, bucket)
}

macro_rules! on_every_backend {
    ($($check:ident),* $(,)?) => {
        mod local_directory {
            $(
                #[tokio::test]
                async fn $check() {
                    let (store, _dir) = super::local();
                    testkit::blob_contract::$check(&store).await;
                }
            )*
        }

        mod azure_blob_on_azurite {
            $(
                #[tokio::test]
                async fn $check() {
                    let (store, _container) = super::azure(stringify!($check));
                    testkit::blob_contract::$check(&store).await;
                }
            )*
        }

        mod s3_on_moto {
            $(
                #[tokio::test]
                async fn $check() {
                    let (store, _bucket) = super::s3(stringify!($check));
                    testkit::blob_contract::$check(&store).await;
                }
            )*
        }
    };
}

on_every_backend!(
    a_written_object_reads_back_byte_for_byte,
    writing_a_name_again_replaces_it_and_never_adds_a_second_object,
    a_listing_holds_exactly_the_objects_under_its_prefix_by_path,
);

/// Stores under two prefixes of one container or bucket see only their own objects, and one on
/// the whole of it sees both under their prefixes; `open` opens the store of a prefix.
async fn stores_under_two_prefixes_see_only_their_own_objects(
    open: impl Fn(&str) -> ObjectBlobStore,
    whole_location: &str,
) {
    let (staging, production, whole) = (open("staging"), open("production"), open(""));
    let file = "events/date=2026-12-03/hour=10/a.ndjson.gz";
    staging.put(file, b"staging".to_vec()).await.expect("put");
    production
        .put(file, b"production".to_vec())
        .await
        .expect("put");

    assert_eq!(
        staging.get(file).await.expect("get"),
        Some(b"staging".to_vec())
    );
    assert_eq!(staging.list("events").await.expect("list").len(), 1);
    let everything: Vec<String> = whole
        .list("")
        .await
        .expect("list the whole")
        .into_iter()
        .map(|entry| entry.path)
        .collect();
    assert_eq!(
        everything,
        [format!("production/{file}"), format!("staging/{file}")]
    );
    assert_eq!(whole.location(), whole_location);
}

#[tokio::test]
async fn stores_under_two_prefixes_of_one_container_see_only_their_own_objects() {
    let azurite = Azurite::ensure();
    let container = azurite.container("prefixes");
    stores_under_two_prefixes_see_only_their_own_objects(
        |prefix| {
            ObjectBlobStore::from_url_with_vars(&container.blob_url(prefix), azurite.vars())
                .expect("a store on Azurite")
        },
        &format!("azure://{}", container.name()),
    )
    .await;
}

#[tokio::test]
async fn stores_under_two_prefixes_of_one_bucket_see_only_their_own_objects() {
    let moto = Moto::ensure();
    let bucket = moto.bucket("prefixes");
    stores_under_two_prefixes_see_only_their_own_objects(
        |prefix| {
            ObjectBlobStore::from_url_with_vars(&bucket.blob_url(prefix), moto.vars())
                .expect("a store on moto")
        },
        &format!("s3://{}", bucket.name()),
    )
    .await;
}

#[tokio::test]
async fn a_container_that_does_not_exist_is_an_error_naming_the_url_not_an_empty_listing() {
    let azurite = Azurite::ensure();
    let store = ObjectBlobStore::from_url_with_vars(
        "azure://no-such-container-for-orderflow/archive",
        azurite.vars(),
    )
    .expect("opening does not call the service");
    let error = store
        .put("events/a.ndjson.gz", b"x".to_vec())
        .await
        .expect_err("no container");
    assert!(
        format!("{error:#}").contains("azure://no-such-container-for-orderflow/archive"),
        "{error:#}"
    );
}

#[tokio::test]
async fn a_bucket_that_does_not_exist_is_an_error_naming_the_url_not_an_empty_listing() {
    let moto = Moto::ensure();
    let store = ObjectBlobStore::from_url_with_vars(
        "s3://no-such-bucket-for-orderflow/archive",
        moto.vars(),
    )
    .expect("opening does not call the service");
    let error = store
        .put("events/a.ndjson.gz", b"x".to_vec())
        .await
        .expect_err("no bucket");
    assert!(
        format!("{error:#}").contains("s3://no-such-bucket-for-orderflow/archive"),
        "{error:#}"
    );
    let error = store.list("events").await.expect_err("no bucket to list");
    assert!(
        format!("{error:#}").contains("s3://no-such-bucket-for-orderflow/archive"),
        "{error:#}"
    );
}
