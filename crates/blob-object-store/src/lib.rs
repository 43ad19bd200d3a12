//! Adapter: the analytics archive's [`BlobStore`] on `object_store`.
//!
//! A local directory (the embedded default, `<data dir>/archive`, or `BLOB_URL=file:///…`),
//! written with `fsync` so that a file the analytics database records as written survives a
//! power loss too; or a cloud store, whose writes are durable once acknowledged: Azure Blob
//! Storage (`BLOB_URL=azure://<container>/<optional prefix>`, see the `azure` module), Amazon S3
//! or an S3-compatible server (`s3://<bucket>/<optional prefix>`, the `s3` module), Google Cloud
//! Storage (`gs://<bucket>/<optional prefix>`, the `gcs` module). Each is configured by its
//! service's usual environment variables, and opening one without the settings it needs fails
//! with an error that names them. All three share one HTTP client and one TLS stack: reqwest
//! with rustls on ring, never aws-lc-rs.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use futures_util::TryStreamExt as _;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use store::analytics::{BlobEntry, BlobStore};

mod azure;
mod gcs;
mod location;
mod s3;

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

    /// The store a `BLOB_URL` names: `file:///absolute/dir` (or a plain path);
    /// `azure://<container>/<optional prefix>` (also `az://`) configured by the process's
    /// `AZURE_*` environment variables; `s3://<bucket>/<optional prefix>` (also `s3a://`) by
    /// its `AWS_*` ones; `gs://<bucket>/<optional prefix>` by its `GOOGLE_*` ones.
    ///
    /// # Errors
    /// For a URL this build cannot open (an unknown scheme), or settings that are missing or
    /// invalid (the error names the setting).
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
        Self::open_url(url, location::env_vars)
    }

    /// As [`from_url`](Self::from_url), with the settings taken from `vars` (pairs such as
    /// `("AWS_ACCESS_KEY_ID", "…")`) instead of the process's environment.
    ///
    /// # Errors
    /// As [`from_url`](Self::from_url).
    pub fn from_url_with_vars(
        url: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<Self> {
        Self::open_url(url, || vars)
    }

    fn open_url<V: IntoIterator<Item = (String, String)>>(
        url: &str,
        vars: impl FnOnce() -> V,
    ) -> anyhow::Result<Self> {
        let Ok(parsed) = url::Url::parse(url) else {
            return Self::local(std::path::Path::new(url));
        };
        let (store, location) = match parsed.scheme() {
            "file" => {
                let dir = parsed
                    .to_file_path()
                    .map_err(|()| anyhow::anyhow!("BLOB_URL {url} is not a local path"))?;
                return Self::local(&dir);
            }
            "azure" | "az" => {
                let location = azure::parse(&parsed)?;
                (
                    azure::open(azure::builder_from_vars(vars()), &location)?,
                    location,
                )
            }
            "s3" | "s3a" => {
                let location = s3::parse(&parsed)?;
                (
                    s3::open(s3::builder_from_vars(vars()), &location)?,
                    location,
                )
            }
            "gs" => {
                let location = gcs::parse(&parsed)?;
                (
                    gcs::open(gcs::builder_from_vars(vars()), &location)?,
                    location,
                )
            }
            "abfs" | "abfss" | "https" => bail!(
                "BLOB_URL {url}: write Azure Blob Storage as azure://<container>/<optional prefix>, \
                 with the account in AZURE_STORAGE_ACCOUNT_NAME; S3 as s3://<bucket>/<optional \
                 prefix>, with the endpoint in AWS_ENDPOINT"
            ),
            other => bail!("BLOB_URL {url}: unknown scheme {other}"),
        };
        Ok(Self {
            store,
            location: location.display(),
        })
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

/// Settings as `(name, value)` pairs, for the adapters' tests.
#[cfg(test)]
fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
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
    fn file_urls_open_and_unknown_schemes_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let url = url::Url::from_directory_path(dir.path()).expect("url");
        assert!(ObjectBlobStore::from_url(url.as_str()).is_ok());
        let error = ObjectBlobStore::from_url("ftp://archive/x").expect_err("refused");
        assert!(error.to_string().contains("unknown scheme ftp"), "{error}");
    }

    #[test]
    fn an_s3_url_opens_with_settings_and_names_what_is_missing() {
        let error = ObjectBlobStore::from_url_with_vars("s3://archive/events", [])
            .expect_err("no credentials");
        assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
        let store = ObjectBlobStore::from_url_with_vars(
            "s3://archive/orderflow/",
            [
                ("AWS_ACCESS_KEY_ID", "key"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_REGION", "eu-central-1"),
            ]
            .map(|(key, value)| (key.to_owned(), value.to_owned())),
        )
        .expect("keys and a region");
        assert_eq!(store.location(), "s3://archive/orderflow");
    }

    #[test]
    fn a_gcs_url_opens_with_settings_and_names_what_is_missing() {
        let error = ObjectBlobStore::from_url_with_vars("gs://archive/events", [])
            .expect_err("no credentials");
        assert!(
            error.to_string().contains("GOOGLE_SERVICE_ACCOUNT"),
            "{error}"
        );
        let store = ObjectBlobStore::from_url_with_vars(
            "gs://archive",
            [("GOOGLE_BEARER_TOKEN".to_owned(), "token".to_owned())],
        )
        .expect("a token");
        assert_eq!(store.location(), "gs://archive");
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
