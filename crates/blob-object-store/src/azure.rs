//! `BLOB_URL=azure://<container>/<optional prefix>` (or `az://`): Azure Blob Storage through
//! `object_store`'s `MicrosoftAzureBuilder`, configured by the usual Azure variables
//! (`AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`, `AZURE_STORAGE_ENDPOINT`, or
//! `AZURE_STORAGE_USE_EMULATOR=true` for Azurite; any other key `MicrosoftAzureBuilder::from_env`
//! knows: SAS, bearer token, service principal, managed identity).
//!
//! Built with object_store's `azure-base`, `reqwest` and `ring` features, not `azure` (which
//! forces aws-lc-rs): its signing runs on ring, and TLS is reqwest's rustls with no provider of
//! its own, so the process must have one installed ([`install_crypto_provider`]).

use std::sync::Arc;

use anyhow::{Context as _, bail};
use object_store::ClientConfigKey;
use object_store::ObjectStore;
use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};

use crate::location::{Location, is_true};

/// Reads `azure://<container>/<optional prefix>` (or `az://`).
pub(crate) fn parse(url: &url::Url) -> anyhow::Result<Location> {
    Location::parse(url, "azure", "container", "AZURE_STORAGE_*")
}

/// The settings of the Azure variables among `vars` (as `MicrosoftAzureBuilder::from_env`
/// reads the environment's).
pub(crate) fn builder_from_vars(
    vars: impl IntoIterator<Item = (String, String)>,
) -> MicrosoftAzureBuilder {
    vars.into_iter()
        .filter(|(key, _)| key.starts_with("AZURE_"))
        .filter_map(|(key, value)| {
            let key: AzureConfigKey = key.to_ascii_lowercase().parse().ok()?;
            Some((key, value))
        })
        .fold(MicrosoftAzureBuilder::new(), |builder, (key, value)| {
            builder.with_config(key, value)
        })
}

/// The store at `location`, from `builder`'s settings; a clear error naming the missing one.
pub(crate) fn open(
    builder: MicrosoftAzureBuilder,
    location: &Location,
) -> anyhow::Result<Arc<dyn ObjectStore>> {
    let at = location.display();
    let flag = |key: &AzureConfigKey| is_true(builder.get_config_value(key).as_deref());
    let emulator = flag(&AzureConfigKey::UseEmulator);
    if !emulator {
        if builder
            .get_config_value(&AzureConfigKey::AccountName)
            .is_none()
        {
            bail!(
                "BLOB_URL {at}: set AZURE_STORAGE_ACCOUNT_NAME (the storage account), or \
                 AZURE_STORAGE_USE_EMULATOR=true for Azurite"
            );
        }
        let plain_http = builder
            .get_config_value(&AzureConfigKey::Endpoint)
            .is_some_and(|endpoint| endpoint.starts_with("http://"));
        if plain_http && !flag(&AzureConfigKey::Client(ClientConfigKey::AllowHttp)) {
            bail!(
                "BLOB_URL {at}: AZURE_STORAGE_ENDPOINT is plain http://; set \
                 AZURE_ALLOW_HTTP=true to allow it (an emulator), or use https://"
            );
        }
    }
    install_crypto_provider();
    let store = builder
        .with_container_name(&location.bucket)
        .build()
        .with_context(|| format!("BLOB_URL {at}: configure Azure Blob Storage"))?;
    Ok(location.under_prefix(store))
}

/// Installs rustls's ring provider as the process's default unless one is installed already.
/// reqwest, built with rustls but without a provider of its own, panics when it makes a client
/// in a process that has none; the binary installs ring first thing, and this keeps a library
/// user (a test) from that panic.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Another thread may have installed one meanwhile: the workspace's one provider, ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars;

    #[test]
    fn a_url_names_the_container_and_an_optional_prefix() {
        let parse = |text: &str| parse(&url::Url::parse(text).expect("a URL"));
        let location = parse("azure://archive/orderflow/prod/").expect("parsed");
        assert_eq!(
            (location.bucket.as_str(), location.prefix.as_str()),
            ("archive", "orderflow/prod")
        );
        assert_eq!(parse("az://archive").expect("parsed").prefix, "");
        assert!(parse("azure:///no-container").is_err());
        let error = parse("azure://account:key@archive/x").expect_err("refused");
        assert!(error.to_string().contains("AZURE_STORAGE_"), "{error}");
    }

    #[test]
    fn a_missing_account_is_named_unless_the_emulator_is_asked_for() {
        let location = parse(&url::Url::parse("azure://archive").expect("a URL")).expect("parsed");
        let error = open(builder_from_vars(vars(&[])), &location).expect_err("no account");
        assert!(
            error.to_string().contains("AZURE_STORAGE_ACCOUNT_NAME"),
            "{error}"
        );
        let error = open(
            builder_from_vars(vars(&[
                ("AZURE_STORAGE_ACCOUNT_NAME", "devstoreaccount1"),
                (
                    "AZURE_STORAGE_ENDPOINT",
                    "http://127.0.0.1:1/devstoreaccount1",
                ),
            ])),
            &location,
        )
        .expect_err("plain http");
        assert!(error.to_string().contains("AZURE_ALLOW_HTTP"), "{error}");
        assert!(
            open(
                builder_from_vars(vars(&[
                    ("AZURE_STORAGE_USE_EMULATOR", "true"),
                    ("UNRELATED", "x")
                ])),
                &location
            )
            .is_ok()
        );
    }
}
