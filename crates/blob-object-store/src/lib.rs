//! Adapter: the analytics archive's [`BlobStore`] on `object_store`.
//!
//! A local directory (the embedded default, `<data dir>/archive`, or `BLOB_URL=file:///…`),
//! written with `fsync` so that a file the analytics database records as written survives a
//! power loss too. `azure://`, `s3://` and `gs://` URLs are recognised and refused in this
//! build: `object_store`'s cloud features bring `aws-lc-rs` (a second TLS crypto provider, a C
//! build) and a second major version of `rand`, which this workspace keeps out (see
//! ARCHITECTURE.md). Enabling them is a feature flag and the URL parsing below, nothing else.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use async_trait::async_trait;
use futures_util::TryStreamExt as _;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use store::analytics::{BlobEntry, BlobStore};

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

    /// The store a `BLOB_URL` names: `file:///absolute/dir` (or a plain path) in this build.
    ///
    /// # Errors
    /// For a URL this build cannot open (a cloud scheme, or no URL at all).
    pub fn from_url(url: &str) -> anyhow::Result<Self> {
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
            "azure" | "az" | "abfs" | "abfss" | "s3" | "s3a" | "gs" | "https" => bail!(
                "BLOB_URL {url}: this build archives to a local directory only (file:///…); \
                 Azure Blob, S3 and GCS need object_store's cloud features, left out because \
                 they bring a second TLS crypto provider (aws-lc-rs)"
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
    fn cloud_urls_are_refused_with_the_reason_and_file_urls_open() {
        let error = ObjectBlobStore::from_url("azure://container/archive").expect_err("refused");
        assert!(
            error.to_string().contains("local directory only"),
            "{error}"
        );
        let dir = tempfile::tempdir().expect("dir");
        let url = url::Url::from_directory_path(dir.path()).expect("url");
        assert!(ObjectBlobStore::from_url(url.as_str()).is_ok());
    }
}
