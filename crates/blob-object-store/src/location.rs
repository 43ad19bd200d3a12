//! Where in a cloud store a `BLOB_URL` points: `<scheme>://<bucket>/<optional prefix>`, the
//! bucket (Azure's container) and a folder in it, and the store under that folder.

use std::sync::Arc;

use anyhow::bail;
use object_store::ObjectStore;
use object_store::prefix::PrefixStore;

/// A bucket (or container) and a folder in it (may be empty), as a `BLOB_URL` names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    /// The service's scheme (`azure`, `s3`, `gs`) for messages, whatever alias the URL used.
    pub(crate) scheme: &'static str,
    pub(crate) bucket: String,
    pub(crate) prefix: String,
}

impl Location {
    /// Reads `<scheme>://<bucket>/<optional prefix>`; `scheme` is the service's own (the URL
    /// may use an alias), `bucket` what the service calls it (bucket, container), `settings`
    /// where the rest of its configuration goes (for messages).
    pub(crate) fn parse(
        url: &url::Url,
        scheme: &'static str,
        bucket: &str,
        settings: &str,
    ) -> anyhow::Result<Self> {
        let name = url.host_str().unwrap_or_default();
        if name.is_empty() {
            bail!("BLOB_URL {url}: name the {bucket}, as {scheme}://<{bucket}>/<optional prefix>");
        }
        if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
            bail!(
                "BLOB_URL {url}: only {scheme}://<{bucket}>/<optional prefix>; the account, \
                 its key and the endpoint are the {settings} settings"
            );
        }
        Ok(Self {
            scheme,
            bucket: name.to_owned(),
            prefix: url.path().trim_matches('/').to_owned(),
        })
    }

    /// `<scheme>://<bucket>/<prefix>`, for messages.
    pub(crate) fn display(&self) -> String {
        if self.prefix.is_empty() {
            format!("{}://{}", self.scheme, self.bucket)
        } else {
            format!("{}://{}/{}", self.scheme, self.bucket, self.prefix)
        }
    }

    /// `store` (the whole bucket) seen from the folder: its paths are relative to the prefix.
    pub(crate) fn under_prefix<S: ObjectStore>(&self, store: S) -> Arc<dyn ObjectStore> {
        if self.prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(PrefixStore::new(store, self.prefix.as_str()))
        }
    }
}

/// Whether a setting's value means yes, as `object_store` reads its boolean settings.
pub(crate) fn is_true(value: Option<&str>) -> bool {
    value.is_some_and(|value| {
        matches!(
            value.to_ascii_lowercase().as_str(),
            "1" | "true" | "on" | "yes" | "y"
        )
    })
}

/// The environment's variables whose names and values are text (as the builders'
/// `from_env` read them).
pub(crate) fn env_vars() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_names_the_bucket_and_an_optional_prefix() {
        let parse = |text: &str| {
            Location::parse(
                &url::Url::parse(text).expect("a URL"),
                "s3",
                "bucket",
                "AWS_*",
            )
        };
        let location = parse("s3a://archive/orderflow/prod/").expect("parsed");
        assert_eq!(
            location,
            Location {
                scheme: "s3",
                bucket: "archive".to_owned(),
                prefix: "orderflow/prod".to_owned()
            }
        );
        assert_eq!(location.display(), "s3://archive/orderflow/prod");
        let whole = parse("s3://archive").expect("parsed");
        assert_eq!(
            (whole.prefix.as_str(), whole.display().as_str()),
            ("", "s3://archive")
        );
        let error = parse("s3:///no-bucket").expect_err("no bucket");
        assert!(error.to_string().contains("name the bucket"), "{error}");
        let error = parse("s3://key:secret@archive/x").expect_err("refused");
        assert!(error.to_string().contains("AWS_*"), "{error}");
    }
}
