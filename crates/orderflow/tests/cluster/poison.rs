use std::time::Duration;

use contracts::Envelope;
use serde_json::{Value, json};
use transport::Publisher as _;
use transport_amqp::{AmqpSettings, AmqpTransport};

use crate::harness::{ADMIN_TOKEN, Cluster};

pub(crate) async fn orderflow(cluster: &Cluster, args: &[&str]) -> Value {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args(args)
        .args(["--url", &cluster.gateway, "--admin-token", ADMIN_TOKEN])
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

async fn wait_for_dead_letter(cluster: &Cluster, not: Option<&str>) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let dead = orderflow(cluster, &["dlq", "list"]).await;
        if let Some(first) = dead.as_array().and_then(|all| all.first())
            && Some(first["id"].as_str().unwrap_or("")) != not
        {
            return first.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never dead-lettered: {dead}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_always_fails_is_dead_lettered_after_three_attempts_and_replayed_by_the_cli()
{
    let cluster = Cluster::start(1, &[]).await;
    let amqp = AmqpTransport::connect(
        &transport_amqp::testing::amqp_url(),
        AmqpSettings {
            prefix: cluster.amqp_prefix.clone(),
            ..AmqpSettings::default()
        },
    )
    .await
    .expect("connect");
    let poison: Envelope = serde_json::from_value(json!({
        "message_id": uuid::Uuid::now_v7(),
        "type": "inventory.reserve",
        "schema_version": 1,
        "correlation_id": uuid::Uuid::now_v7(),
        "causation_id": null,
        "occurred_at": "2026-11-23T10:00:00Z",
        "traceparent": null,
        "payload": {"not": "a reservation"}
    }))
    .expect("envelope");

    amqp.publish(std::slice::from_ref(&poison))
        .await
        .expect("publish");

    let dead = wait_for_dead_letter(&cluster, None).await;
    assert_eq!(dead["attempts"], 3, "{dead}");
    assert_eq!(dead["queue"], "inventory");
    assert_eq!(
        dead["envelope"]["message_id"],
        poison.message_id.to_string()
    );
    assert!(
        dead["error"]
            .as_str()
            .expect("error")
            .contains("inventory.reserve"),
        "{dead}"
    );

    let id = dead["id"].as_str().expect("id");
    let replayed = orderflow(&cluster, &["dlq", "replay", id]).await;
    assert_eq!(replayed["replayed"], true);
    // Delivered again, it fails three times again and is parked again.
    let again = wait_for_dead_letter(&cluster, None).await;
    assert_eq!(again["attempts"], 3);
    assert_eq!(
        again["envelope"]["message_id"],
        poison.message_id.to_string()
    );
    let all = orderflow(&cluster, &["dlq", "list"]).await;
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(1),
        "replay moved it, not copied it: {all}"
    );

    amqp.disconnect().await;
    cluster.remove().await;
}
