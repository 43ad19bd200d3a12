//! For tests: a broker of the test's own (`scripts/ensure-tansu` on a free port, stopped when
//! dropped), unique topic and group names, and a dead-letter sink that keeps what it is given.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use async_trait::async_trait;
use contracts::Envelope;
use transport::TransportError;

use crate::DeadLetterSink;

/// `scripts/ensure-tansu` of this checkout.
pub fn ensure_tansu() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/ensure-tansu")
}

/// A tansu broker on loopback, in memory, for one test; stopped when dropped.
#[derive(Debug)]
pub struct TestBroker {
    port: u16,
}

impl TestBroker {
    /// Starts one on a free port.
    ///
    /// # Panics
    /// When it cannot start (the binary is missing: the script says how to install it).
    pub fn start() -> Self {
        Self::start_advertising(None, free_port())
    }

    /// Starts one on `port` that tells clients to connect to `advertise` (a proxy in front
    /// of it) instead of itself.
    ///
    /// # Panics
    /// When it cannot start.
    pub fn start_advertising(advertise: Option<&str>, port: u16) -> Self {
        let mut command = Command::new(ensure_tansu());
        command.args(["start", "--port", &port.to_string()]);
        if let Some(advertise) = advertise {
            command.args(["--advertise", advertise]);
        }
        let output = command.output().expect("run scripts/ensure-tansu");
        assert!(
            output.status.success(),
            "scripts/ensure-tansu failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Self { port }
    }

    /// `bootstrap.servers` for this broker.
    pub fn brokers(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let _ = Command::new(ensure_tansu())
            .args(["stop", "--port", &self.port.to_string()])
            .output();
    }
}

/// A port nothing listens on now.
///
/// # Panics
/// When no port can be bound.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A name no other test uses: `<prefix>-<random>`.
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// One parked message, as [`MemorySink`] keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct Parked {
    pub body: Vec<u8>,
    pub envelope: Option<Envelope>,
    pub error: String,
    pub attempts: u32,
}

/// A dead-letter sink that keeps what it is given.
#[derive(Debug, Default)]
pub struct MemorySink {
    parked: Mutex<Vec<Parked>>,
}

impl MemorySink {
    pub fn parked(&self) -> Vec<Parked> {
        self.parked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl DeadLetterSink for MemorySink {
    async fn park(
        &self,
        body: Vec<u8>,
        envelope: Option<&Envelope>,
        error: &str,
        attempts: u32,
    ) -> Result<(), TransportError> {
        self.parked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Parked {
                body,
                envelope: envelope.cloned(),
                error: error.to_owned(),
                attempts,
            });
        Ok(())
    }
}
