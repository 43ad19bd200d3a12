//! `orderflow archive … --json`, run as a user runs it, for the embedded and the cluster tests.

use std::process::ExitStatus;

use serde_json::Value;
use tokio::process::Command;

/// Runs `orderflow archive <args> --json`, with `locate` telling it where the analytics
/// store and the archive are: its exit status and the report it printed.
pub(crate) async fn archive_report(
    args: &[&str],
    locate: impl FnOnce(&mut Command),
) -> (ExitStatus, Value) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_orderflow"));
    command.arg("archive").args(args).arg("--json");
    locate(&mut command);
    let output = command.output().await.expect("run orderflow archive");
    let report = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
        panic!(
            "orderflow archive {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status, report)
}
