//! A RabbitMQ restart under load (`rabbitmqctl stop_app`, then `start_app`) loses nothing.
//!
//! The broker restarted is this checkout's private node (`scripts/private-services`), never
//! the machine's shared one, which other tests and other checkouts are using. Its own test
//! binary: cargo runs test binaries one after another, so no other test of this checkout is
//! using the private node while this one stops it.

#[path = "cluster/checks.rs"]
mod checks;
#[expect(
    dead_code,
    reason = "the cluster harness is shared; this test uses part of it"
)]
#[path = "cluster/harness.rs"]
mod harness;
#[expect(
    dead_code,
    reason = "the cluster's customer calls are shared; this test lists as the admin only"
)]
#[path = "cluster/identity.rs"]
mod identity;

use std::process::Command;
use std::time::Duration;

use checks::{assert_invariants, mixed, place_all};
use harness::{Broker, Cluster, private_services};

/// Starts the private broker's application again even if the test fails half-way.
struct BrokerRestart;

impl BrokerRestart {
    fn stop() -> Self {
        private_services_run("stop-rabbitmq-app");
        BrokerRestart
    }
}

impl Drop for BrokerRestart {
    fn drop(&mut self) {
        private_services_run("start-rabbitmq-app");
    }
}

fn private_services_run(command: &str) {
    let status = Command::new(private_services())
        .arg(command)
        .status()
        .expect("private-services");
    assert!(status.success(), "private-services {command}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rabbitmq_restart_under_load_loses_nothing_and_leaves_nothing_unacknowledged() {
    let cluster = Cluster::start_on(
        Broker::private(),
        1,
        &[("ORDERFLOW_PAYMENT_LATENCY_MS", "5")],
        &|_, url| url.to_owned(),
    )
    .await;
    let load = tokio::spawn(place_all(
        cluster.http.clone(),
        cluster.gateway.clone(),
        (0..300).map(mixed).collect(),
        20,
    ));
    tokio::time::sleep(Duration::from_millis(1000)).await;

    let restart = BrokerRestart::stop();
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(restart);

    let mut accepted = load.await.expect("placing");
    // Orders keep coming after the restart, through reconnected services.
    accepted.extend(
        place_all(
            cluster.http.clone(),
            cluster.gateway.clone(),
            (300..350).map(mixed).collect(),
            20,
        )
        .await,
    );
    assert!(
        accepted.len() >= 300,
        "orders are accepted while the broker is down: {}",
        accepted.len()
    );
    assert_invariants(&cluster, &accepted).await;
    cluster.remove().await;
}
