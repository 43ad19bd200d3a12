//! `BLOB_URL=s3://<bucket>/<optional prefix>` (or `s3a://`): Amazon S3, or a server that speaks
//! its API, through `object_store`'s `AmazonS3Builder`, configured by the usual AWS variables:
//! `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN` for temporary
//! ones), `AWS_REGION` or `AWS_DEFAULT_REGION` (else `us-east-1`), `AWS_ENDPOINT` or
//! `AWS_ENDPOINT_URL` for an S3-compatible server (requests are path-style unless
//! `AWS_VIRTUAL_HOSTED_STYLE_REQUEST=true`), `AWS_ALLOW_HTTP=true` for one on plain http; any
//! other key `AmazonS3Builder::from_env` knows.
//!
//! Credentials must be configured, not guessed: static keys; a web identity
//! (`AWS_WEB_IDENTITY_TOKEN_FILE` with `AWS_ROLE_ARN`, as EKS sets them); the container
//! credentials ECS and EKS Pod Identity set (`AWS_CONTAINER_CREDENTIALS_*`); or, for an EC2
//! instance's role, `AWS_METADATA_ENDPOINT` (`http://169.254.169.254`). Without any of them
//! opening fails and names the keys, instead of the first write waiting on an instance
//! metadata service that is not there.
//!
//! Built with object_store's `aws-base` feature, not `aws` (which forces aws-lc-rs): request
//! signing runs on ring, TLS is reqwest's rustls as for Azure.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use object_store::ClientConfigKey;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

use crate::azure::install_crypto_provider;
use crate::location::{Location, is_true};

/// Reads `s3://<bucket>/<optional prefix>` (or `s3a://`).
pub(crate) fn parse(url: &url::Url) -> anyhow::Result<Location> {
    Location::parse(url, "s3", "bucket", "AWS_*")
}

/// The settings of the AWS variables among `vars` (as `AmazonS3Builder::from_env` reads the
/// environment's).
pub(crate) fn builder_from_vars(
    vars: impl IntoIterator<Item = (String, String)>,
) -> AmazonS3Builder {
    vars.into_iter()
        .filter(|(key, _)| key.starts_with("AWS_"))
        .filter_map(|(key, value)| {
            let key: AmazonS3ConfigKey = key.to_ascii_lowercase().parse().ok()?;
            Some((key, value))
        })
        .fold(AmazonS3Builder::new(), |builder, (key, value)| {
            builder.with_config(key, value)
        })
}

/// The store at `location`, from `builder`'s settings; a clear error naming the missing one.
pub(crate) fn open(
    builder: AmazonS3Builder,
    location: &Location,
) -> anyhow::Result<Arc<dyn ObjectStore>> {
    use AmazonS3ConfigKey as Key;
    let at = location.display();
    let has = |key: &Key| builder.get_config_value(key).is_some();
    let flag = |key: &Key| is_true(builder.get_config_value(key).as_deref());
    match (has(&Key::AccessKeyId), has(&Key::SecretAccessKey)) {
        (true, true) => {}
        (true, false) => {
            bail!("BLOB_URL {at}: AWS_ACCESS_KEY_ID is set, AWS_SECRET_ACCESS_KEY is not")
        }
        (false, true) => {
            bail!("BLOB_URL {at}: AWS_SECRET_ACCESS_KEY is set, AWS_ACCESS_KEY_ID is not")
        }
        (false, false) => {
            if has(&Key::WebIdentityTokenFile) && !has(&Key::RoleArn) {
                bail!("BLOB_URL {at}: AWS_WEB_IDENTITY_TOKEN_FILE is set; set AWS_ROLE_ARN too");
            }
            let configured = has(&Key::WebIdentityTokenFile)
                || has(&Key::ContainerCredentialsRelativeUri)
                || has(&Key::ContainerCredentialsFullUri)
                || has(&Key::MetadataEndpoint)
                || flag(&Key::SkipSignature);
            if !configured {
                bail!(
                    "BLOB_URL {at}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or \
                     AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN; on an EC2 instance, \
                     AWS_METADATA_ENDPOINT=http://169.254.169.254 for its role)"
                );
            }
        }
    }
    let plain_http = builder
        .get_config_value(&Key::Endpoint)
        .is_some_and(|endpoint| endpoint.starts_with("http://"));
    if plain_http && !flag(&Key::Client(ClientConfigKey::AllowHttp)) {
        bail!(
            "BLOB_URL {at}: AWS_ENDPOINT is plain http://; set AWS_ALLOW_HTTP=true to allow it \
             (a local server), or use https://"
        );
    }
    install_crypto_provider();
    let store = builder
        .with_bucket_name(&location.bucket)
        .build()
        .with_context(|| format!("BLOB_URL {at}: configure Amazon S3"))?;
    Ok(location.under_prefix(store))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vars;

    fn location() -> Location {
        parse(&url::Url::parse("s3://archive/orderflow").expect("a URL")).expect("parsed")
    }

    #[test]
    fn missing_credentials_and_plain_http_without_permission_are_named() {
        let error = open(builder_from_vars(vars(&[])), &location()).expect_err("no keys");
        assert!(error.to_string().contains("AWS_ACCESS_KEY_ID"), "{error}");
        let error = open(
            builder_from_vars(vars(&[("AWS_ACCESS_KEY_ID", "key")])),
            &location(),
        )
        .expect_err("no secret");
        assert!(
            error.to_string().contains("AWS_SECRET_ACCESS_KEY"),
            "{error}"
        );
        let error = open(
            builder_from_vars(vars(&[("AWS_WEB_IDENTITY_TOKEN_FILE", "/token")])),
            &location(),
        )
        .expect_err("no role");
        assert!(error.to_string().contains("AWS_ROLE_ARN"), "{error}");
        let error = open(
            builder_from_vars(vars(&[
                ("AWS_ACCESS_KEY_ID", "key"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ])),
            &location(),
        )
        .expect_err("plain http");
        assert!(error.to_string().contains("AWS_ALLOW_HTTP"), "{error}");
    }

    #[test]
    fn keys_a_region_and_an_endpoint_open_a_store() {
        let builder = builder_from_vars(vars(&[
            ("AWS_ACCESS_KEY_ID", "key"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ENDPOINT", "http://127.0.0.1:1"),
            ("AWS_ALLOW_HTTP", "true"),
            ("UNRELATED", "x"),
        ]));
        assert_eq!(
            builder
                .get_config_value(&AmazonS3ConfigKey::Region)
                .as_deref(),
            Some("eu-west-1")
        );
        assert!(open(builder, &location()).is_ok());
        let instance_role =
            builder_from_vars(vars(&[("AWS_METADATA_ENDPOINT", "http://169.254.169.254")]));
        assert!(open(instance_role, &location()).is_ok());
    }
}
