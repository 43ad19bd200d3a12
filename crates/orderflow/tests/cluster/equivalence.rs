//! Proof under hostile delivery on the local cluster: the equivalence check of
//! `tests/equivalence` (same workload, same end-state comparison), with fewer orders, on one
//! process per service and two replicas of inventory and payment, over RabbitMQ and
//! PostgreSQL. Every service process injects the faults; republished messages are real second
//! copies on RabbitMQ here, which competing consumers of different processes may handle at once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use contracts::Queue;
use sqlx::{Connection as _, PgConnection};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::api::Api;
use crate::end_state::{
    PaymentRecord, SystemUnderTest, assert_equivalent, assert_faults_were_injected, run,
};
use crate::harness::{ADMIN_TOKEN, Cluster};
use crate::workload::{PAYMENT_DEADLINE, PAYMENT_HOLD, Seed, plan};

/// Port offsets of the service processes: order, inventory, payment, notification, query,
/// then the second replicas of inventory and payment.
const SERVICE_PROCESSES: [u16; 7] = [1, 2, 3, NOTIFICATION, 5, 12, 13];
const NOTIFICATION: u16 = 4;

struct ClusterSystem {
    /// Kept for the whole run: other tests may hold most of PostgreSQL's connections. Declared
    /// first, so it is closed before the cluster's database is dropped.
    connection: Mutex<Option<PgConnection>>,
    cluster: Cluster,
    api: Api,
}

impl ClusterSystem {
    async fn start(faults: Option<String>) -> Self {
        let deadline = PAYMENT_DEADLINE.as_millis().to_string();
        let hold = PAYMENT_HOLD.as_millis().to_string();
        let mut settings = vec![
            ("ORDERFLOW_PAYMENT_DEADLINE_MS", deadline.as_str()),
            ("ORDERFLOW_PAYMENT_HOLD_MS", hold.as_str()),
        ];
        if let Some(faults) = &faults {
            settings.push(("ORDERFLOW_FAULTS", faults));
        }
        let cluster = Cluster::start(2, &settings).await;
        let api = Api::new(cluster.gateway.clone(), ADMIN_TOKEN.to_owned());
        Self {
            connection: Mutex::new(None),
            cluster,
            api,
        }
    }

    /// Closes the connection, then stops and removes the cluster.
    async fn remove(self) {
        if let Some(connection) = self.connection.into_inner() {
            let _ = connection.close().await;
        }
        self.cluster.remove().await;
    }

    /// Faults injected by every service process (the gateway consumes nothing).
    async fn injected_faults(&self) -> HashMap<String, u64> {
        let mut total = HashMap::new();
        for process in SERVICE_PROCESSES {
            for (fault, count) in self.service(process).injected_faults().await {
                *total.entry(fault).or_default() += count;
            }
        }
        total
    }

    /// The API of the service process whose port is `offset` above the gateway's (see
    /// `scripts/local-cluster`).
    fn service(&self, offset: u16) -> Api {
        let base: u16 = (self.cluster.gateway.rsplit(':').next())
            .and_then(|port| port.parse().ok())
            .expect("the gateway's port");
        Api::new(
            format!("http://127.0.0.1:{}", base + offset),
            ADMIN_TOKEN.to_owned(),
        )
    }

    /// The connection to the cluster's database, opened on first use. PostgreSQL refuses new
    /// connections while other tests hold all of them, so opening it is retried for a while.
    async fn connection(&self) -> MappedMutexGuard<'_, PgConnection> {
        let mut connection = self.connection.lock().await;
        if connection.is_none() {
            let url = self.cluster.database_url();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                match PgConnection::connect(url).await {
                    Ok(opened) => break *connection = Some(opened),
                    Err(error) if Instant::now() < deadline => {
                        println!("cannot connect yet ({error}); retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(error) => panic!("cannot connect to the cluster's database: {error}"),
                }
            }
        }
        MutexGuard::map(connection, |connection| {
            connection.as_mut().expect("connected")
        })
    }
}

#[async_trait]
impl SystemUnderTest for ClusterSystem {
    fn api(&self) -> &Api {
        &self.api
    }

    async fn payments(&self) -> HashMap<String, PaymentRecord> {
        let rows: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT order_id, status, amount_minor FROM payment_service.payments")
                .fetch_all(&mut *self.connection().await)
                .await
                .expect("read payments");
        rows.into_iter()
            .map(|(order_id, status, amount_minor)| {
                let record = PaymentRecord {
                    status,
                    amount_minor,
                };
                (order_id, record)
            })
            .collect()
    }

    async fn messages_in_flight(&self) -> u64 {
        let mut connection = self.connection().await;
        let mut in_flight = 0;
        for service in Queue::ALL {
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {}_service.outbox",
                service.name()
            )))
            .fetch_one(&mut *connection)
            .await
            .expect("count the outbox");
            in_flight += u64::try_from(count).unwrap_or(0);
        }
        // Ready and unacknowledged messages of the consuming queues and their retry tiers;
        // parked ones (`.dlq`) are not in flight, and the end state reports them.
        let output = self
            .cluster
            .broker
            .rabbitmqctl()
            .args(["-q", "list_queues", "name", "messages"])
            .output()
            .expect("rabbitmqctl");
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let mut fields = line.split_whitespace();
            let (Some(name), Some(messages)) = (fields.next(), fields.next()) else {
                continue;
            };
            if name.starts_with(&self.cluster.amqp_prefix) && !name.ends_with(".dlq") {
                in_flight += messages.parse::<u64>().unwrap_or(1);
            }
        }
        in_flight
    }

    async fn emails_sent(&self) -> u64 {
        self.service(NOTIFICATION).emails_sent().await
    }

    /// From the notification process's log: each message whose email went out more than once,
    /// with every line that names it (how it was delivered, retried and recorded).
    async fn emails_sent_twice(&self) -> String {
        let log = match self.cluster.log("notification-1") {
            Ok(log) => log,
            Err(error) => return format!("\nno notification log: {error}"),
        };
        let mut sends: HashMap<String, usize> = HashMap::new();
        for id in log.lines().filter_map(emailed_message) {
            *sends.entry(id).or_default() += 1;
        }
        let mut told = String::new();
        for (id, count) in sends.into_iter().filter(|(_, count)| *count > 1) {
            told.push_str(&format!("\nmessage {id} emailed {count} times:"));
            for line in log.lines().filter(|line| line.contains(&id)) {
                told.push_str("\n  ");
                told.push_str(line);
            }
        }
        if told.is_empty() {
            told.push_str("; the notification log shows no message emailed twice");
        }
        told
    }
}

/// The message whose email a (JSON) line of the notification process's log says went out.
fn emailed_message(line: &str) -> Option<String> {
    let line: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = &line["fields"];
    if fields["message"] != "email sent to the mailbox" {
        return None;
    }
    fields["message.id"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_orders_end_the_same_in_the_cluster_under_hostile_delivery_as_cleanly() {
    let seed = Seed::from_env(1, "cluster equivalence");
    let plan = plan(seed, 100);

    let started = Instant::now();
    let clean = ClusterSystem::start(None).await;
    println!("clean cluster started: {:?}", started.elapsed());
    let clean_end = run(&clean, &plan, 6, seed).await;
    println!("clean run: {:?}", started.elapsed());
    clean.remove().await;
    let started = Instant::now();
    let hostile = ClusterSystem::start(Some(seed.faults())).await;
    println!("hostile cluster started: {:?}", started.elapsed());
    let hostile_end = run(&hostile, &plan, 6, seed).await;
    println!("hostile run: {:?}", started.elapsed());
    let injected = hostile.injected_faults().await;
    hostile.remove().await;

    assert_faults_were_injected(seed, &injected);
    assert_equivalent(seed, &plan, &clean_end, &hostile_end);
}

#[test]
fn a_log_line_of_a_sent_email_names_its_message() {
    let line = r#"{"level":"INFO","fields":{"message":"email sent to the mailbox","message.id":"01a2-aa"},"span":{"message.id":"01a2-aa"}}"#;
    assert_eq!(emailed_message(line).as_deref(), Some("01a2-aa"));
    assert_eq!(
        emailed_message(r#"{"fields":{"message":"customer notified"}}"#),
        None
    );
}
