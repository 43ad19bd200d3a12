//! Adapter: the analytics archive's [`BlobStore`] on `object_store`.
//!
//! A local directory (the embedded default, `<data dir>/archive`, or `BLOB_URL=file:///…`),
//! written with `fsync` so that a file the analytics database records as written survives a
//! power loss too; or Azure Blob Storage (`BLOB_URL=azure://<container>/<optional prefix>`,
//! see its `azure` module), whose writes are durable once acknowledged. `s3://` and `gs://`
//! URLs are recognised and refused: those features are not built in.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use futures_util::TryStreamExt as _;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use store::analytics::{BlobEntry, BlobStore};

mod azure;

pub use azure::install_crypto_provider;

/// [`BlobStore`] on an `object_store` store, under a root path.
#[derive(Clone, Debug)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
    /// Where it is, for messages: the directory or URL.
    location: String,
}

impl ObjectBlobStore {
    /// A local directory, created if missing.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn local(dir: &std::path::Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("create the archive directory {}", dir.display()))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("open the archive directory {}", dir.display()))?
            .with_fsync(true);
        Ok(Self {
            store: Arc::new(store),
            location: dir.display().to_string(),
        })
    }

    /// The store a `BLOB_URL` names: `file:///absolute/dir` (or a plain path), or
    /// `azure://<container>/<optional prefix>` (also `az://`) configured by the process's
    /// `AZURE_*` environment variables.
    ///
    /// # Errors
    /// For a URL this build cannot open (S3, GCS, an unknown scheme), or Azure settings that
    /// are missing or invalid (the error names the setting).
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        Self::open_url(url, MicrosoftAzureBuilder::from_env)
    }

    /// As [`from_url`](Self::from_url), with the Azure settings taken from `vars` (pairs such as
    /// `("AZURE_STORAGE_ACCOUNT_NAME", "…")`) instead of the process's environment.
    ///
    /// # Errors
    /// As [`from_url`](Self::from_url).
    pub fn from_url_with_vars(
        url: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        Self::open_url(url, || azure::builder_from_vars(vars))
    }

    fn open_url(
        url: &str,
        azure_settings: impl FnOnce() -> MicrosoftAzureBuilder,
    ) -> anyhow::Result<Self> {
        let Ok(parsed) = url::Url::parse(url) else {
            return Self::local(std::path::Path::new(url));
        };
        match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| anyhow::anyhow!("BLOB_URL {url} is not a local path"))?;
                Self::local(&dir)
            }
            "azure" | "az" => {
                let location = azure::AzureLocation::parse(&parsed)?;
                Ok(Self {
                    store: azure::open(azure_settings(), &location)?,
                    location: location.display(),
                })
            }
            "abfs" | "abfss" | "https" => bail!(
                "BLOB_URL {url}: write Azure Blob Storage as azure://<container>/<optional prefix>, \
                 with the account in AZURE_STORAGE_ACCOUNT_NAME"
            ),
            "s3" | "s3a" | "gs" => bail!(
                "BLOB_URL {url}: this build archives to a local directory (file:///…) or Azure \
                 Blob Storage (azure://…); S3 and GCS are not built in"
            ),
            other => bail!("BLOB_URL {url}: unknown scheme {other}"),
        }
    }

    /// Where the store is: a directory or a URL.
    pub fn location(&self) -> &str {
        &self.location
    }
}

#[async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, path: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
        self.store
            .put(&Path::from(path), PutPayload::from(bytes))
            .await
            .with_context(|| format!("write {path} to {}", self.location))?;
        Ok(())
    }

    async fn get(&self, path: &str) -> anyhow::Result<Option<Vec<u8>>> {
        match self.store.get(&Path::from(path)).await {
            Ok(found) => Ok(Some(
                found
                    .bytes()
                    .await
                    .with_context(|| format!("read {path}"))?
                    .to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error).with_context(|| format!("read {path} from {}", self.location)),
        }
    }

    async fn list(&self, prefix: &str) -> anyhow::Result<Vec<BlobEntry>> {
        let prefix = Path::from(prefix);
        let mut entries: Vec<BlobEntry> = self
            .store
            .list(Some(&prefix))
            .map_ok(|meta| BlobEntry {
                path: meta.location.to_string(),
                size: meta.size,
            })
            .try_collect()
            .await
            .with_context(|| format!("list {}", self.location))?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_written_object_reads_back_and_is_listed_under_its_prefix() {
        let dir = tempfile::tempdir().expect("dir");
        let store = ObjectBlobStore::local(&dir.path().join("archive")).expect("store");
        store
            .put(
                "events/date=2026-12-03/hour=10/a.ndjson.gz",
                b"one".to_vec(),
            )
            .await
            .expect("put");
        store
            .put(
                "events/date=2026-12-03/hour=10/a.ndjson.gz",
                b"two".to_vec(),
            )
            .await
            .expect("put again");
        store.put("other/b", b"x".to_vec()).await.expect("put");
        assert_eq!(
            store
                .get("events/date=2026-12-03/hour=10/a.ndjson.gz")
                .await
                .expect("get"),
            Some(b"two".to_vec())
        );
        assert_eq!(store.get("events/none").await.expect("get"), None);
        let listed = store.list("events").await.expect("list");
        assert_eq!(
            listed,
            [BlobEntry {
                path: "events/date=2026-12-03/hour=10/a.ndjson.gz".to_owned(),
                size: 3
            }]
        );
    }

    #[test]
    fn s3_and_gcs_urls_are_refused_with_the_reason_and_file_urls_open() {
        let error = ObjectBlobStore::from_url("s3://bucket/archive").expect_err("refused");
        assert!(error.to_string().contains("not built in"), "{error}");
        let error = ObjectBlobStore::from_url("gs://bucket/archive").expect_err("refused");
        assert!(error.to_string().contains("not built in"), "{error}");
        let dir = tempfile::tempdir().expect("dir");
        let url = url::Url::from_directory_path(dir.path()).expect("url");
        assert!(ObjectBlobStore::from_url(url.as_str()).is_ok());
    }

    #[test]
    fn an_azure_url_opens_with_settings_and_names_what_is_missing() {
        let error = ObjectBlobStore::from_url_with_vars("azure://archive/events", [])
            .expect_err("no account");
        assert!(
            error.to_string().contains("AZURE_STORAGE_ACCOUNT_NAME"),
            "{error}"
        );
        let store = ObjectBlobStore::from_url_with_vars(
            "az://archive/orderflow",
            [("AZURE_STORAGE_USE_EMULATOR".to_owned(), "true".to_owned())],
        )
        .expect("the emulator's defaults");
        assert_eq!(store.location(), "azure://archive/orderflow");
    }
}
