//! moto's server, an S3-compatible server, for the archive's S3 tests: started (or found
//! running) by `scripts/ensure-moto`, which installs it with pip into a virtualenv of the
//! project's the first time, and one fresh bucket per test, created with a plain REST call and
//! emptied and deleted when dropped. moto takes any key and checks no signature, but refuses
//! an anonymous request to delete an object: these requests name a key, unsigned.
//!
//! Nothing is skipped: when moto cannot be started, [`Moto::ensure`] panics with the script's
//! own message.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::azurite::run_script;

/// The access key the tests use (moto takes any).
pub const ACCESS_KEY: &str = "orderflow-test";

/// A running moto server.
#[derive(Clone, Copy, Debug)]
pub struct Moto {
    pub port: u16,
}

impl Moto {
    /// The moto of this machine, started by `scripts/ensure-moto` unless it answers already
    /// (once per test process).
    ///
    /// # Panics
    /// When the script cannot install or start it: the test fails with the script's message.
    pub fn ensure() -> Self {
        static STARTED: OnceLock<Result<u16, String>> = OnceLock::new();
        match STARTED
            .get_or_init(|| run_script("ensure-moto", "python3 with venv, and PyPI the first time"))
        {
            Ok(port) => Self { port: *port },
            Err(message) => {
                panic!("moto is needed for this test and could not be started: {message}")
            }
        }
    }

    /// Where it listens, as `AWS_ENDPOINT` names an S3-compatible server.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The `AWS_*` settings that reach this moto, as one would configure any S3-compatible
    /// server: keys (moto takes any), a region, the endpoint, plain http allowed.
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "orderflow-test-secret".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// A new, empty bucket with a unique name, emptied and deleted when the guard is dropped.
    ///
    /// # Panics
    /// When moto refuses to create it.
    pub fn bucket(&self, purpose: &str) -> Bucket {
        let purpose: String = purpose
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(20)
            .collect::<String>()
            .to_ascii_lowercase();
        let purpose = if purpose.is_empty() {
            "test".to_owned()
        } else {
            purpose
        };
        let name = format!("{purpose}-{}", uuid::Uuid::new_v4().simple());
        self.request("PUT", &format!("/{name}"))
            .unwrap_or_else(|error| panic!("create the bucket {name} on moto: {error:#}"));
        Bucket { moto: *self, name }
    }

    /// One request, naming the access key of [`vars`](Self::vars) but unsigned; the answer's
    /// body. HTTP/1.0, so that the body is never chunked.
    fn request(&self, method: &str, path: &str) -> anyhow::Result<String> {
        let request = format!(
            "{method} {path} HTTP/1.0\r\n\
             Host: 127.0.0.1:{port}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/20260101/us-east-1/s3/aws4_request, \
             SignedHeaders=host, Signature=0\r\n\
             Content-Length: 0\r\n\r\n",
            port = self.port
        );
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).context("connect to moto")?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(request.as_bytes())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let status: u16 = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("not an HTTP answer: {answer}"))?;
        if status >= 300 {
            bail!("{method} {path}: {answer}");
        }
        Ok(answer
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default())
    }
}

/// A bucket of a test's own; emptied and deleted when dropped.
#[derive(Debug)]
pub struct Bucket {
    moto: Moto,
    name: String,
}

impl Bucket {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `s3://<bucket>/<prefix>`, the `BLOB_URL` of a folder in it.
    pub fn blob_url(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.name)
    }

    /// Deletes what the bucket holds (the first thousand objects: a test writes a few), then
    /// the bucket.
    fn delete(&self) -> anyhow::Result<()> {
        let listing = self
            .moto
            .request("GET", &format!("/{}?list-type=2", self.name))?;
        for key in listing.split("<Key>").skip(1) {
            let key = key.split("</Key>").next().unwrap_or_default();
            let key = key.replace("&amp;", "&");
            self.moto
                .request("DELETE", &format!("/{}/{key}", self.name))?;
        }
        self.moto.request("DELETE", &format!("/{}", self.name))?;
        Ok(())
    }
}

impl Drop for Bucket {
    fn drop(&mut self) {
        if let Err(error) = self.delete() {
            eprintln!("could not delete the test bucket {}: {error:#}", self.name);
        }
    }
}
