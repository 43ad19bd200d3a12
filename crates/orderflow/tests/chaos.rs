//! `scripts/chaos` on a short load: the local cluster on this checkout's private PostgreSQL,
//! RabbitMQ and Redis (`scripts/private-services`, never the machine's shared servers), an
//! open-loop bench through the gateway while every fault of the script's sequence is played
//! once (kill -9 of services and of the gateway, a PostgreSQL restart, RabbitMQ stopped and
//! started, processes paused and resumed, a graceful restart), then `orderflow verify` and the
//! verdict. The test passes only when the verdict does: nothing lost or duplicated, no valid
//! order cancelled, no double charge, stock conserved and nothing reserved, verify clean.
//!
//! Its own test binary: cargo runs test binaries one after another, so no other test of this
//! checkout uses the private servers while this one restarts them.

use std::path::PathBuf;
use std::process::Command;

/// Orders of the short load, and their rate: about a minute of load, as long as a round of
/// faults takes.
const ORDERS: &str = "600";
const RATE: &str = "10";
/// The faults of one round of `scripts/chaos`.
const FAULTS_PER_ROUND: usize = 11;

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../scripts/{name}"))
}

/// A base port whose whole block (gateway, services, replicas) is free now.
fn free_base_port() -> u16 {
    testkit::ports::free_block(26)
}

#[test]
fn under_kills_restarts_and_pauses_no_order_is_lost_duplicated_or_wrongly_cancelled() {
    let dir = tempfile::tempdir().expect("run dir");
    let output = Command::new(script("chaos"))
        .env("ORDERFLOW_BIN", env!("CARGO_BIN_EXE_orderflow"))
        .env("CHAOS_DIR", dir.path())
        .env("CHAOS_ORDERS", ORDERS)
        .env("CHAOS_RATE", RATE)
        .env("CHAOS_OUTAGE", "3")
        .env("CHAOS_GAP", "1")
        .env("CHAOS_TIME_LIMIT", "420")
        .env("BASE_PORT", free_base_port().to_string())
        .output()
        .expect("run scripts/chaos");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let faults = std::fs::read_to_string(dir.path().join("faults.log")).unwrap_or_default();
    let context = format!(
        "stdout:\n{stdout}\nstderr:\n{}\nbench:\n{}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(dir.path().join("bench.log")).unwrap_or_default()
    );

    let played = faults
        .lines()
        .filter(|line| {
            [
                "chaos: kill -9",
                "chaos: PostgreSQL: restart",
                "chaos: RabbitMQ: stop_app",
                "chaos: SIGSTOP",
                "chaos: graceful restart",
            ]
            .iter()
            .any(|fault| line.contains(fault))
        })
        .count();
    assert!(
        played >= FAULTS_PER_ROUND,
        "every fault of a round was played: {played}\n{context}"
    );
    assert!(
        !faults.contains("fault step failed"),
        "every fault step ran\n{context}"
    );
    assert!(
        stdout.contains("verdict: PASS") && output.status.success(),
        "the chaos verdict passes ({})\n{context}",
        output.status
    );
    let accepted: u64 = stdout
        .lines()
        .find_map(|line| line.strip_prefix("chaos verdict: "))
        .and_then(|line| line.split_whitespace().next())
        .and_then(|count| count.parse().ok())
        .expect("the verdict counts the accepted orders");
    assert!(
        accepted >= 400,
        "most of the load was accepted through the faults: {accepted}\n{context}"
    );
}
