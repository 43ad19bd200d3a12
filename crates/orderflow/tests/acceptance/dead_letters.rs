use std::time::Duration;

use contracts::Envelope;
use serde_json::{Value, json};
use store_sqlite::SqliteQueue;
use transport::Publisher as _;

use crate::helpers::spawn_app;

/// A reserve command whose payload the inventory service cannot read: poison.
pub(crate) fn poison() -> Envelope {
    serde_json::from_value(json!({
        "message_id": uuid::Uuid::now_v7(),
        "type": "inventory.reserve",
        "schema_version": 1,
        "correlation_id": uuid::Uuid::now_v7(),
        "causation_id": null,
        "occurred_at": "2026-11-23T10:00:00Z",
        "traceparent": null,
        "payload": {"order": "no items here"}
    }))
    .expect("envelope")
}

/// Runs the CLI; asynchronously, so that the server in this test's runtime keeps answering.
async fn orderflow(args: &[&str]) -> Value {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args(args)
        .output()
        .await
        .expect("run orderflow");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("json output")
}

#[tokio::test]
async fn a_poison_message_is_dead_lettered_after_three_attempts_and_can_be_replayed() {
    let app = spawn_app().await;
    let message = poison();
    SqliteQueue::new(app.embedded().databases.clone())
        .publish(std::slice::from_ref(&message))
        .await
        .expect("publish");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let dead = app.admin_get("/api/v1/admin/dead-letters").await;
        if !dead.as_array().expect("array").is_empty() {
            break dead;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    assert_eq!(dead[0]["queue"], "inventory");
    assert_eq!(dead[0]["attempts"], 3);
    assert_eq!(
        dead[0]["envelope"]["message_id"],
        message.message_id.to_string()
    );
    assert!(
        dead[0]["error"]
            .as_str()
            .expect("error")
            .contains("inventory.reserve"),
        "{dead}"
    );

    // The CLI shows and replays it against the running server.
    let server = [
        "--url",
        app.base.as_str(),
        "--admin-token",
        app.admin_token.as_str(),
    ];
    let listed = orderflow(&[&["dlq", "list"][..], &server[..]].concat()).await;
    assert_eq!(listed, dead);
    let id = dead[0]["id"].as_str().expect("id");
    let replayed = orderflow(&[&["dlq", "replay", id][..], &server[..]].concat()).await;
    assert_eq!(replayed["replayed"], true);

    // Replayed, it fails again three times and is parked again: nothing is dropped silently.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let again = app.admin_get("/api/v1/admin/dead-letters").await;
        if again.as_array().map(Vec::len) == Some(1) && again[0]["id"] != dead[0]["id"] {
            assert_eq!(again[0]["attempts"], 3);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "replayed message did not come back: {again}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let discarded = app
        .http
        .delete(app.url(&format!(
                "/api/v1/admin/dead-letters/{}",
                app.admin_get("/api/v1/admin/dead-letters").await[0]["id"]
                    .as_str()
                    .expect("id")
            )))
        .bearer_auth(&app.admin_token)
        .send()
        .await
        .expect("delete");
    assert_eq!(discarded.status(), 204);
    assert_eq!(app.admin_get("/api/v1/admin/dead-letters").await, json!([]));
}
