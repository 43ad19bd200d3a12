//! A scaled-out cluster for one test: `scripts/local-cluster` starting the real binary as one
//! process per service, on a fresh PostgreSQL database, its own RabbitMQ name prefix and Redis
//! key prefix, and free ports. Everything is removed when the test ends.
//!
//! Cluster tests run one at a time: each starts eight or more processes with their own
//! connection pools, and a 2-core machine with PostgreSQL's 100 connections holds one
//! cluster under load at a time, not several.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;
use testkit::postgres::TestDatabase;
use tokio::sync::{Mutex, MutexGuard};

static ONE_CLUSTER_AT_A_TIME: Mutex<()> = Mutex::const_new(());

pub(crate) const ADMIN_TOKEN: &str = "cluster-test-token";
/// The cluster's secret for customer tokens, the same in every process (see `identity.rs`).
pub(crate) const JWT_SECRET: &str = "cluster-test-jwt-secret";

pub(crate) struct Cluster {
    pub(crate) gateway: String,
    base_port: u16,
    pub(crate) http: reqwest::Client,
    pub(crate) database: Option<TestDatabase>,
    pub(crate) amqp_prefix: String,
    /// The broker the processes use: the shared one, or this checkout's private node.
    pub(crate) broker: Broker,
    redis_prefix: String,
    dir: TempDir,
    env: Vec<(String, String)>,
    _turn: MutexGuard<'static, ()>,
}

pub(crate) fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/local-cluster")
}

/// `scripts/private-services`: PostgreSQL, RabbitMQ and Redis of this checkout's own, which a
/// test may stop and restart.
pub(crate) fn private_services() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/private-services")
}

/// A RabbitMQ a cluster uses.
#[derive(Clone, Debug)]
pub(crate) enum Broker {
    /// The machine's shared broker (`AMQP_URL`), which no test may stop.
    Shared,
    /// The private node of `scripts/private-services`, which a test may stop and start.
    Private { url: String },
}

impl Broker {
    /// Starts the private services if they are down, and returns their broker.
    #[allow(
        dead_code,
        reason = "the broker restart test's; not every test binary sharing the harness uses it"
    )]
    pub(crate) fn private() -> Self {
        let run = |command: &str| {
            let output = Command::new(private_services())
                .arg(command)
                .output()
                .expect("run private-services");
            assert!(
                output.status.success(),
                "private-services {command}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout).into_owned()
        };
        run("start");
        let url = run("env")
            .lines()
            .find_map(|line| line.strip_prefix("export AMQP_URL="))
            .expect("the private broker's URL")
            .to_owned();
        Broker::Private { url }
    }

    pub(crate) fn url(&self) -> String {
        match self {
            Broker::Shared => transport_amqp::testing::amqp_url(),
            Broker::Private { url } => url.clone(),
        }
    }

    /// `rabbitmqctl` for this broker.
    pub(crate) fn rabbitmqctl(&self) -> Command {
        match self {
            Broker::Shared => Command::new("rabbitmqctl"),
            Broker::Private { .. } => {
                let mut command = Command::new(private_services());
                command.arg("rabbitmqctl");
                command
            }
        }
    }
}

/// A base port whose whole block (gateway, services, replicas) is free now.
fn free_base_port() -> u16 {
    testkit::ports::free_block(26)
}

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Where the processes reach PostgreSQL, RabbitMQ and Redis: the servers themselves, or other
/// addresses in front of them (a test's proxies).
pub(crate) type Route<'a> = &'a dyn Fn(Backend, &str) -> String;

/// A server the processes depend on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Postgres,
    Rabbitmq,
    Redis,
}

impl Cluster {
    /// Starts a cluster; `settings` are extra environment variables for every process.
    pub(crate) async fn start(replicas: u32, settings: &[(&str, &str)]) -> Cluster {
        Self::start_routed(replicas, settings, &|_, url| url.to_owned()).await
    }

    /// Starts a cluster whose processes reach each backend at `route(backend, url)`; the
    /// harness itself (checks, clean-up) uses the servers directly.
    pub(crate) async fn start_routed(
        replicas: u32,
        settings: &[(&str, &str)],
        route: Route<'_>,
    ) -> Cluster {
        Self::start_on(Broker::Shared, replicas, settings, route).await
    }

    /// Starts a cluster on `broker`, whose processes reach each backend at
    /// `route(backend, url)`.
    pub(crate) async fn start_on(
        broker: Broker,
        replicas: u32,
        settings: &[(&str, &str)],
        route: Route<'_>,
    ) -> Cluster {
        orderflow::tls::install_crypto_provider();
        let turn = ONE_CLUSTER_AT_A_TIME.lock().await;
        let database = TestDatabase::create().await.expect("test database");
        let amqp_prefix = transport_amqp::testing::test_prefix();
        let redis_prefix = format!("{}:", amqp_prefix.trim_end_matches('.'));
        let mut dir = tempfile::tempdir().expect("cluster dir");
        // For a run to look into afterwards: every process's log stays, and where it is shown.
        if std::env::var_os("ORDERFLOW_KEEP_CLUSTER_DIR").is_some() {
            dir.disable_cleanup(true);
            eprintln!("cluster dir kept: {}", dir.path().display());
        }
        let base_port = free_base_port();
        let mut env: Vec<(String, String)> = vec![
            (
                "ORDERFLOW_BIN".into(),
                env!("CARGO_BIN_EXE_orderflow").into(),
            ),
            ("CLUSTER_DIR".into(), dir.path().display().to_string()),
            ("BASE_PORT".into(), base_port.to_string()),
            ("REPLICAS".into(), replicas.to_string()),
            ("REPLICATED".into(), "inventory payment".into()),
            (
                "DATABASE_URL".into(),
                route(Backend::Postgres, database.url()),
            ),
            ("AMQP_URL".into(), route(Backend::Rabbitmq, &broker.url())),
            ("REDIS_URL".into(), route(Backend::Redis, &redis_url())),
            ("ORDERFLOW_AMQP_PREFIX".into(), amqp_prefix.clone()),
            ("ORDERFLOW_REDIS_PREFIX".into(), redis_prefix.clone()),
            ("ORDERFLOW_ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
            ("ORDERFLOW_JWT_SECRET".into(), JWT_SECRET.into()),
            ("ORDERFLOW_RETRY_DELAY_MS".into(), "50".into()),
            ("ORDERFLOW_RETRY_MAX_DELAY_MS".into(), "2000".into()),
            // Tests of other behaviour fire hundreds of orders at a cluster that has not
            // measured its completion rate yet; admission has a test of its own.
            ("ORDERFLOW_MAX_IN_FLIGHT".into(), "1000000".into()),
            // The tests load the gateway from one address far past a per-client limit.
            ("ORDERFLOW_RATE_LIMIT".into(), "0".into()),
            ("RUST_LOG".into(), "info,sqlx=warn".into()),
            ("RUST_BACKTRACE".into(), "0".into()),
            ("RUST_LIB_BACKTRACE".into(), "0".into()),
        ];
        env.extend(
            settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let cluster = Cluster {
            gateway: format!("http://127.0.0.1:{base_port}"),
            base_port,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
            database: Some(database),
            amqp_prefix,
            broker,
            redis_prefix,
            dir,
            env,
            _turn: turn,
        };
        cluster.script("start").await;
        cluster
    }

    /// The address of the first process of `service` (`order`, …, `query`, `analytics`, `gateway`), with
    /// the same port plan as `scripts/local-cluster`.
    pub(crate) fn process_url(&self, service: &str) -> String {
        let offset = match service {
            "gateway" => 0,
            "order" => 1,
            "inventory" => 2,
            "payment" => 3,
            "notification" => 4,
            "query" => 5,
            "analytics" => 6,
            other => panic!("no service {other}"),
        };
        format!("http://127.0.0.1:{}", self.base_port + offset)
    }

    /// Runs `scripts/local-cluster <command>` with this cluster's settings.
    pub(crate) async fn script(&self, command: &str) -> String {
        self.script_args(&[command]).await
    }

    /// Runs `scripts/local-cluster <args…>` (e.g. `stop analytics-1`) with this cluster's
    /// settings.
    pub(crate) async fn script_args(&self, args: &[&str]) -> String {
        let command = args.join(" ");
        let output = tokio::process::Command::new(script())
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .await
            .expect("run local-cluster");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "local-cluster {command} failed:\n{stdout}\n{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            self.logs()
        );
        stdout
    }

    /// The URL of the cluster's test database.
    pub(crate) fn database_url(&self) -> &str {
        self.database.as_ref().expect("database").url()
    }

    /// The cluster's directory: pid files, logs, settings.
    pub(crate) fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The whole log of a process by name (`order-1`, `analytics-1`, `gateway`), across its
    /// restarts.
    pub(crate) fn log(&self, name: &str) -> std::io::Result<String> {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.log")))
    }

    /// The last lines of every process's log, for failure messages.
    pub(crate) fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(8).collect();
                all.push_str(&format!("--- {}\n", path.display()));
                for line in tail.into_iter().rev() {
                    all.push_str(line);
                    all.push('\n');
                }
            }
        }
        all
    }

    /// The pid of a process by name (`order-1`, `inventory-2`, `gateway`).
    pub(crate) fn pid(&self, name: &str) -> i32 {
        std::fs::read_to_string(self.dir.path().join(format!("{name}.pid")))
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid")
    }

    /// Kills the process with SIGKILL and returns once it is gone (or a zombie): on a busy
    /// machine a process takes a while to die, and a `start` issued meanwhile would take it
    /// for running and not start it again.
    pub(crate) fn kill_9(&self, name: &str) {
        let pid = self.pid(name);
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -9 {name}");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while is_alive(pid) {
            assert!(
                std::time::Instant::now() < deadline,
                "{name} (pid {pid}) still alive 30 s after kill -9"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) async fn place(&self, body: &Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/v1/orders", self.gateway))
            .json(body)
            .send()
            .await
            .expect("post order");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.gateway))
            .send()
            .await
            .expect("get");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(crate) async fn admin(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.gateway))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("admin get");
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.expect("json")
    }

    /// Waits until the order is terminal; retries while the gateway or a service is down.
    pub(crate) async fn wait_until_terminal(&self, id: &str, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (status, order) = self.get(&format!("/api/v1/orders/{id}")).await;
            if status == 200 && matches!(order["status"].as_str(), Some("COMPLETED" | "CANCELLED"))
            {
                return order;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "order {id} not terminal after {timeout:?}: {status} {order}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stock once no reservation is in flight.
    pub(crate) async fn settled_stock(&self) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let stock = self.admin("/api/v1/admin/stock").await;
            let levels = stock.as_array().expect("array").clone();
            if levels.iter().all(|l| l["reserved"] == 0) || tokio::time::Instant::now() > deadline {
                return levels;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `(order id, status)` of every payment, read from the payment service's schema.
    pub(crate) async fn payments(&self) -> Vec<(String, String)> {
        let url = self.database_url().to_owned();
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("connect");
        sqlx::query_as("SELECT order_id::text, status FROM payment_service.payments")
            .fetch_all(&mut connection)
            .await
            .expect("read payments")
    }

    /// Messages that some consumer holds without having acknowledged them, per queue.
    pub(crate) fn unacked(&self) -> Vec<(String, u64)> {
        let output = self
            .broker
            .rabbitmqctl()
            .args(["-q", "list_queues", "name", "messages_unacknowledged"])
            .output()
            .expect("rabbitmqctl");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| line.starts_with(&self.amqp_prefix))
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                Some((fields.next()?.to_owned(), fields.next()?.parse().ok()?))
            })
            .filter(|(_, unacked)| *unacked > 0)
            .collect()
    }

    /// Stops every process and removes the database, the broker names and the cache keys.
    pub(crate) async fn remove(mut self) {
        self.script("stop").await;
        if let Some(database) = self.database.take() {
            database.drop_database().await.expect("drop test database");
        }
        transport_amqp::testing::delete_topology(&self.broker.url(), &self.amqp_prefix)
            .await
            .expect("delete topology");
        let cache = cache_redis::RedisViewCache::new(
            &redis_url(),
            &self.redis_prefix,
            Duration::from_secs(1),
        )
        .expect("cache");
        let _ = cache.clear().await;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A test that failed before `remove`: stop the processes and remove the broker's
        // names (the test database removes itself when dropped).
        if self.database.is_some() {
            let _ = Command::new(script())
                .arg("stop")
                .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .output();
            let prefix = self.amqp_prefix.clone();
            let url = self.broker.url();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                runtime
                    .block_on(transport_amqp::testing::delete_topology(&url, &prefix))
                    .ok()
            })
            .join();
        }
    }
}

/// Whether `pid` is a live process: neither gone nor a zombie waiting to be reaped.
fn is_alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain spaces.
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    !matches!(state, None | Some('Z' | 'X'))
}
