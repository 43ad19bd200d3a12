//! `BLOB_URL=gs://<bucket>/<optional prefix>`: Google Cloud Storage through `object_store`'s
//! `GoogleCloudStorageBuilder`, configured by the usual Google variables: a service account's
//! JSON key file (`GOOGLE_SERVICE_ACCOUNT`, also `GOOGLE_SERVICE_ACCOUNT_PATH` or
//! `SERVICE_ACCOUNT`), the key itself (`GOOGLE_SERVICE_ACCOUNT_KEY`), application default
//! credentials (`GOOGLE_APPLICATION_CREDENTIALS`, such as `gcloud auth
//! application-default login` writes), or a token (`GOOGLE_BEARER_TOKEN`); any other key
//! `GoogleCloudStorageBuilder::from_env` knows (`GOOGLE_BASE_URL` for an emulator).
//!
//! Credentials must be configured, not guessed: without any of those, or `GCE_METADATA_HOST`
//! for a Compute Engine or GKE machine's service account (`metadata.google.internal`),
//! opening fails and names the keys.
//!
//! Built with object_store's `gcp-base` feature, not `gcp` (which forces aws-lc-rs): a service
//! account's key signs on ring, TLS is reqwest's rustls as for Azure.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use object_store::ObjectStore;
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};

use crate::azure::install_crypto_provider;
use crate::location::{Location, is_true};

/// Reads `gs://<bucket>/<optional prefix>`.
pub(crate) fn parse(url: &url::Url) -> anyhow::Result<Location> {
    Location::parse(url, "gs", "bucket", "GOOGLE_*")
}

/// The Google settings among `vars` (as `GoogleCloudStorageBuilder::from_env` reads the
/// environment's), and whether they name a metadata server (`GCE_METADATA_HOST`).
pub(crate) fn builder_from_vars(
    vars: impl IntoIterator<Item = (String, String)>,
) -> (GoogleCloudStorageBuilder, bool) {
    let mut metadata_server = false;
    let builder = vars
        .into_iter()
        .filter_map(|(key, value)| {
            if key == "GCE_METADATA_HOST" {
                metadata_server = true;
                return None;
            }
            if key == "SERVICE_ACCOUNT" {
                return Some((GoogleConfigKey::ServiceAccount, value));
            }
            if !key.starts_with("GOOGLE_") {
                return None;
            }
            let key: GoogleConfigKey = key.to_ascii_lowercase().parse().ok()?;
            Some((key, value))
        })
        .fold(GoogleCloudStorageBuilder::new(), |builder, (key, value)| {
            builder.with_config(key, value)
        });
    (builder, metadata_server)
}

/// The store at `location`, from `builder`'s settings; a clear error naming the missing one.
pub(crate) fn open(
    (builder, metadata_server): (GoogleCloudStorageBuilder, bool),
    location: &Location,
) -> anyhow::Result<Arc<dyn ObjectStore>> {
    use GoogleConfigKey as Key;
    let at = location.display();
    let has = |key: &Key| builder.get_config_value(key).is_some();
    let configured = has(&Key::ServiceAccount)
        || has(&Key::ServiceAccountKey)
        || has(&Key::ApplicationCredentials)
        || has(&Key::BearerToken)
        || is_true(builder.get_config_value(&Key::SkipSignature).as_deref())
        || metadata_server;
    if !configured {
        bail!(
            "BLOB_URL {at}: set GOOGLE_APPLICATION_CREDENTIALS or GOOGLE_SERVICE_ACCOUNT (a \
             JSON key file), or GOOGLE_SERVICE_ACCOUNT_KEY (the key itself); on Compute \
             Engine or GKE, GCE_METADATA_HOST=metadata.google.internal for its service account"
        );
    }
    install_crypto_provider();
    let store = builder
        .with_bucket_name(&location.bucket)
        .build()
        .with_context(|| format!("BLOB_URL {at}: configure Google Cloud Storage"))?;
    Ok(location.under_prefix(store))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars;

    fn location() -> Location {
        parse(&url::Url::parse("gs://archive/orderflow").expect("a URL")).expect("parsed")
    }

    #[test]
    fn missing_credentials_are_named_and_an_unreadable_key_file_is_an_error() {
        let error = open(builder_from_vars(vars(&[])), &location()).expect_err("no credentials");
        assert!(
            error.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
            "{error}"
        );
        let error = open(
            builder_from_vars(vars(&[(
                "GOOGLE_SERVICE_ACCOUNT",
                "/no/such/orderflow-key.json",
            )])),
            &location(),
        )
        .expect_err("no key file");
        assert!(
            format!("{error:#}").contains("gs://archive/orderflow"),
            "{error:#}"
        );
    }

    #[test]
    fn a_service_account_key_or_a_metadata_server_opens_a_store() {
        let key = r#"{"private_key": "", "private_key_id": "", "client_email": "",
            "disable_oauth": true, "gcs_base_url": "http://127.0.0.1:1"}"#;
        assert!(
            open(
                builder_from_vars(vars(&[
                    ("GOOGLE_SERVICE_ACCOUNT_KEY", key),
                    ("UNRELATED", "x")
                ])),
                &location()
            )
            .is_ok()
        );
        assert!(
            open(
                builder_from_vars(vars(&[("GCE_METADATA_HOST", "metadata.google.internal")])),
                &location()
            )
            .is_ok()
        );
    }
}
