//! The blob store contract suite (`testkit::blob_contract`) against both backends of
//! `ObjectBlobStore`: a local directory, and Azure Blob Storage on a real Azurite (started by
//! `scripts/ensure-azurite`; a test fails, never skips, when it cannot be), each check in a
//! fresh container of its own, deleted at the end, under a prefix of the `BLOB_URL`.

use blob_object_store::ObjectBlobStore;
use store::analytics::BlobStore as _;
use testkit::azurite::{Azurite, Container};

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

macro_rules! on_both_backends {
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
    };
}

on_both_backends!(
    a_written_object_reads_back_byte_for_byte,
    writing_a_name_again_replaces_it_and_never_adds_a_second_object,
    a_listing_holds_exactly_the_objects_under_its_prefix_by_path,
);

#[tokio::test]
async fn stores_under_two_prefixes_of_one_container_see_only_their_own_objects() {
    let azurite = Azurite::ensure();
    let container = azurite.container("prefixes");
    let open = |prefix: &str| {
        ObjectBlobStore::from_url_with_vars(&container.blob_url(prefix), azurite.vars())
            .expect("a store on Azurite")
    };
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
        .expect("list the container")
        .into_iter()
        .map(|entry| entry.path)
        .collect();
    assert_eq!(
        everything,
        [format!("production/{file}"), format!("staging/{file}")]
    );
    assert_eq!(whole.location(), format!("azure://{}", container.name()));
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
