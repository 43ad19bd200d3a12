//! Proof under hostile delivery, in the embedded mode: the same seeded orders of mixed outcome
//! run once on a clean transport and once through the fault-injecting one (every delivery
//! possibly handed out twice, reordered, delayed, its ack dropped; messages published twice),
//! and both runs end in the same state. The local cluster runs the same check with fewer
//! orders (`tests/cluster/equivalence.rs`), over these modules.
//!
//! The seed is fixed so CI repeats itself; `ORDERFLOW_TEST_SEED` picks another, and a failure
//! prints the seed it ran with.

mod api;
mod end_state;
mod workload;

use std::collections::HashMap;
use std::time::Instant;

use async_trait::async_trait;
use contracts::Queue;
use orderflow::config::RunConfig;
use orderflow::embedded::Embedded;
use store::OutboxReader as _;
use store::payment::PaymentStore as _;
use store_sqlite::{SqliteOutbox, SqlitePaymentStore, SqliteQueue};
use tempfile::TempDir;

use crate::api::Api;
use crate::end_state::{
    PaymentRecord, SystemUnderTest, assert_equivalent, assert_faults_were_injected, run,
};
use crate::workload::{Kind, PAYMENT_DEADLINE, PAYMENT_HOLD, Seed, plan};

/// The embedded system on a data directory of its own.
struct EmbeddedSystem {
    system: Embedded,
    api: Api,
    _data_dir: TempDir,
}

impl EmbeddedSystem {
    async fn start(faults: Option<String>) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut config = RunConfig::for_tests(data_dir.path().to_path_buf());
        config.settings.payment_deadline_ms = millis(PAYMENT_DEADLINE);
        config.settings.payment_hold_ms = millis(PAYMENT_HOLD);
        config.settings.faults = faults.map(|raw| raw.parse().expect("valid faults"));
        let system = Embedded::start(&config).await.expect("start the system");
        let api = Api::new(
            format!("http://{}", system.addr),
            system.admin_token.clone(),
        );
        Self {
            system,
            api,
            _data_dir: data_dir,
        }
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).expect("short")
}

#[async_trait]
impl SystemUnderTest for EmbeddedSystem {
    fn api(&self) -> &Api {
        &self.api
    }

    async fn payments(&self) -> HashMap<String, PaymentRecord> {
        SqlitePaymentStore::new(self.system.databases.payment.clone())
            .payments()
            .await
            .expect("read payments")
            .into_iter()
            .map(|payment| {
                let record = PaymentRecord {
                    status: payment.status.as_str().to_owned(),
                    amount_minor: payment.amount.minor(),
                };
                (payment.order_id.to_string(), record)
            })
            .collect()
    }

    async fn messages_in_flight(&self) -> u64 {
        let databases = &self.system.databases;
        let queue = SqliteQueue::new(databases.clone());
        let mut in_flight = 0;
        for service in Queue::ALL {
            in_flight += queue.depth(service).await.expect("queue depth");
            let outbox = SqliteOutbox::new(databases.get(service).clone());
            in_flight += outbox.pending(1000).await.expect("outbox").len() as u64;
        }
        in_flight
    }

    async fn emails_sent(&self) -> u64 {
        self.api.emails_sent().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_orders_end_the_same_under_hostile_delivery_as_on_a_clean_transport() {
    let seed = Seed::from_env(1, "equivalence");
    let plan = plan(seed, 1000);
    for kind in [
        Kind::Completes,
        Kind::Declined,
        Kind::OutOfStock,
        Kind::CustomerCancels,
        Kind::PaymentTimesOut,
    ] {
        assert!(plan.iter().any(|order| order.kind == kind), "{kind:?}");
    }

    let started = Instant::now();
    let clean = EmbeddedSystem::start(None).await;
    let clean_end = run(&clean, &plan, 12, seed).await;
    clean.system.stop().await.expect("clean stop");
    println!("clean run: {:?}", started.elapsed());
    let started = Instant::now();
    let hostile = EmbeddedSystem::start(Some(seed.faults())).await;
    let hostile_end = run(&hostile, &plan, 12, seed).await;
    let injected = hostile.api.injected_faults().await;
    hostile.system.stop().await.expect("clean stop");
    println!("hostile run: {:?}", started.elapsed());

    assert_faults_were_injected(seed, &injected);
    assert_equivalent(seed, &plan, &clean_end, &hostile_end);
}
