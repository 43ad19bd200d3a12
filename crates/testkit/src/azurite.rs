//! Azurite, the Azure Blob Storage emulator, for the archive's Azure tests: started (or found
//! running) by `scripts/ensure-azurite`, which installs it with npm the first time, and one
//! fresh container per test, created with a small signed REST call and deleted when dropped.
//!
//! Nothing is skipped: when Azurite cannot be started, [`Azurite::ensure`] panics with the
//! script's own message.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// Azurite's well-known development account and its published key.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const API_VERSION: &str = "2021-08-06";

/// A running Azurite's blob service.
#[derive(Clone, Copy, Debug)]
pub struct Azurite {
    pub port: u16,
}

impl Azurite {
    /// The Azurite of this machine, started by `scripts/ensure-azurite` unless it answers
    /// already (once per test process).
    ///
    /// # Panics
    /// When the script cannot install or start it: the test fails with the script's message.
    pub fn ensure() -> Self {
        static STARTED: OnceLock<Result<u16, String>> = OnceLock::new();
        match STARTED.get_or_init(|| {
            run_script(
                "ensure-azurite",
                "Node and npm, and npm's registry the first time",
            )
        }) {
            Ok(port) => Self { port: *port },
            Err(message) => {
                panic!("Azurite is needed for this test and could not be started: {message}")
            }
        }
    }

    /// The account's URL, path-style as Azurite serves it.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// The `AZURE_*` settings that reach this Azurite with an explicit account, key and
    /// endpoint (as one would configure a real storage account).
    pub fn vars(&self) -> Vec<(String, String)> {
        [
            ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT.to_owned()),
            ("AZURE_STORAGE_ACCOUNT_KEY", ACCOUNT_KEY.to_owned()),
            ("AZURE_STORAGE_ENDPOINT", self.endpoint()),
            ("AZURE_ALLOW_HTTP", "true".to_owned()),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value))
        .collect()
    }

    /// The environment of a process that reaches this Azurite in emulator mode, as the README
    /// shows: `AZURE_STORAGE_USE_EMULATOR=true`, and where it listens.
    pub fn emulator_env(&self) -> Vec<(String, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR".to_owned(), "true".to_owned()),
            (
                "AZURITE_BLOB_STORAGE_URL".to_owned(),
                format!("http://127.0.0.1:{}", self.port),
            ),
        ]
    }

    /// A new, empty container with a unique name, deleted when the guard is dropped.
    ///
    /// # Panics
    /// When Azurite refuses to create it.
    pub fn container(&self, purpose: &str) -> Container {
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
        let status = self
            .request("PUT", &name)
            .unwrap_or_else(|error| panic!("create the container {name} on Azurite: {error:#}"));
        assert_eq!(status, 201, "Azurite did not create the container {name}");
        Container {
            azurite: *self,
            name,
        }
    }

    /// One signed (Shared Key) container request; the answer's status.
    fn request(&self, method: &str, container: &str) -> anyhow::Result<u16> {
        let date = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
            ))
            .context("format the date")?;
        // Verb, then eleven standard headers, all empty; the x-ms-* headers; the resource (the
        // account twice: once as the account, once in Azurite's path-style URL).
        let to_sign = format!(
            "{method}\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{API_VERSION}\n\
             /{ACCOUNT}/{ACCOUNT}/{container}\nrestype:container"
        );
        let key = BASE64
            .decode(ACCOUNT_KEY)
            .context("decode the account key")?;
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
        let signature = BASE64.encode(ring::hmac::sign(&key, to_sign.as_bytes()).as_ref());
        let request = format!(
            "{method} /{ACCOUNT}/{container}?restype=container HTTP/1.1\r\n\
             Host: 127.0.0.1:{port}\r\n\
             x-ms-date: {date}\r\n\
             x-ms-version: {API_VERSION}\r\n\
             Authorization: SharedKey {ACCOUNT}:{signature}\r\n\
             Content-Length: 0\r\n\
             Connection: close\r\n\r\n",
            port = self.port
        );
        let mut stream =
            TcpStream::connect(("127.0.0.1", self.port)).context("connect to Azurite")?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(request.as_bytes())?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("not an HTTP answer: {answer}"))?;
        if status >= 300 {
            bail!("{method} {container}: {answer}");
        }
        Ok(status)
    }
}

/// A container of a test's own; deleted (with everything in it) when dropped.
#[derive(Debug)]
pub struct Container {
    azurite: Azurite,
    name: String,
}

impl Container {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `azure://<container>/<prefix>`, the `BLOB_URL` of a folder in it.
    pub fn blob_url(&self, prefix: &str) -> String {
        format!("azure://{}/{prefix}", self.name)
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if let Err(error) = self.azurite.request("DELETE", &self.name) {
            eprintln!(
                "could not delete the test container {}: {error:#}",
                self.name
            );
        }
    }
}

/// Runs one of the `scripts/ensure-*` scripts (which print the port their server answers on);
/// `needs` says what it needs, for the message when it fails.
pub(crate) fn run_script(name: &str, needs: &str) -> Result<u16, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name);
    let output = Command::new(&script)
        .output()
        .map_err(|error| format!("cannot run {}: {error}", script.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "{} exited with {} (it needs {needs}):\n{stderr}",
            script.display(),
            output.status
        ));
    }
    stdout
        .trim()
        .parse()
        .map_err(|_| format!("{} printed no port: {stdout:?}\n{stderr}", script.display()))
}
