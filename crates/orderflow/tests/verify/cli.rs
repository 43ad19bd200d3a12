//! The `orderflow verify` command, run as the real binary: what it prints and how it exits.

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use crate::golden::{break_order, golden_copy};

async fn verify_command(data_dir: &Path, extra: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args([
            "verify",
            "--settle-secs",
            "0",
            "--grace-secs",
            "0",
            "--data-dir",
        ])
        .arg(data_dir)
        .args(extra)
        // The command reads its configuration from the environment too: none of the test's.
        .env_remove("ORDERFLOW_CONFIG")
        .env_remove("AMQP_URL")
        .output()
        .await
        .expect("run orderflow verify")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn the_command_exits_0_when_clean_1_with_violations_and_2_when_it_cannot_check() {
    let (data_dir, orders) = golden_copy();

    let clean = verify_command(data_dir.path(), &[]).await;
    let sql = "UPDATE payments SET status = 'succeeded' WHERE order_id = ?1";
    break_order(data_dir.path(), "payment", sql, orders.cancelled).await;
    let broken = verify_command(data_dir.path(), &[]).await;
    let broken_json = verify_command(data_dir.path(), &["--json"]).await;
    let missing = verify_command(&data_dir.path().join("nowhere"), &[]).await;

    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert!(
        stdout(&clean).ends_with("No violations.\n"),
        "{}",
        stdout(&clean)
    );
    assert_eq!(broken.status.code(), Some(1), "{}", stdout(&broken));
    let expected_line = format!(
        "  cancelled_order_charged: order {}: cancelled, but payment ",
        orders.cancelled
    );
    assert!(
        stdout(&broken).contains(&format!("1 violation:\n{expected_line}")),
        "{}",
        stdout(&broken)
    );
    assert_eq!(broken_json.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&broken_json.stdout).expect("a json report");
    assert_eq!(report["violations"][0]["kind"], "cancelled_order_charged");
    assert_eq!(report["checked"]["orders"], 4);
    assert_eq!(missing.status.code(), Some(2));
    let complaint = String::from_utf8_lossy(&missing.stderr);
    assert!(
        complaint.contains("could not check") && complaint.contains("no order database"),
        "{complaint}"
    );
}
