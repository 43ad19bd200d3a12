//! One typed configuration, read once from flags and the environment and passed down.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use order_service::SagaDeadlines;
use payment_service::SimulatedGatewaySettings;
use transport::RetryPolicy;

/// How to run the embedded system.
#[derive(Clone, Debug, Args)]
pub struct RunConfig {
    /// Address of the HTTP API.
    #[arg(long, env = "ORDERFLOW_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Directory of the service databases (created if missing).
    #[arg(long, env = "ORDERFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Bearer token for the admin endpoints; generated and kept in the data dir when unset.
    #[arg(long, env = "ORDERFLOW_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Attempts a failing message gets before it is dead-lettered.
    #[arg(long, env = "ORDERFLOW_MAX_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,

    /// First retry delay in milliseconds; doubles with every retry.
    #[arg(long, env = "ORDERFLOW_RETRY_DELAY_MS", default_value_t = 200)]
    pub retry_delay_ms: u64,

    /// Longest retry delay in milliseconds.
    #[arg(long, env = "ORDERFLOW_RETRY_MAX_DELAY_MS", default_value_t = 30_000)]
    pub retry_max_delay_ms: u64,

    /// How long the saga waits for a stock reservation, in milliseconds.
    #[arg(long, env = "ORDERFLOW_STOCK_DEADLINE_MS", default_value_t = 30_000)]
    pub stock_deadline_ms: u64,

    /// How long the saga waits for a payment, in milliseconds.
    #[arg(long, env = "ORDERFLOW_PAYMENT_DEADLINE_MS", default_value_t = 30_000)]
    pub payment_deadline_ms: u64,

    /// Latency of the simulated payment gateway, in milliseconds.
    #[arg(long, env = "ORDERFLOW_PAYMENT_LATENCY_MS", default_value_t = 0)]
    pub payment_latency_ms: u64,

    /// Share of simulated gateway calls that fail transiently (0 to 1); they are retried.
    #[arg(long, env = "ORDERFLOW_PAYMENT_FAILURE_RATE", default_value_t = 0.0)]
    pub payment_failure_rate: f64,

    /// Concurrent consumers per queue.
    #[arg(long, env = "ORDERFLOW_CONSUMERS", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub consumers: u32,
}

impl RunConfig {
    /// Defaults for `data_dir`, listening on a free port: what tests start from.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir,
            admin_token: Some("test-admin-token".to_owned()),
            max_attempts: 3,
            retry_delay_ms: 20,
            retry_max_delay_ms: 500,
            stock_deadline_ms: 30_000,
            payment_deadline_ms: 30_000,
            payment_latency_ms: 0,
            payment_failure_rate: 0.0,
            consumers: 4,
        }
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            initial_delay: Duration::from_millis(self.retry_delay_ms),
            max_delay: Duration::from_millis(self.retry_max_delay_ms.max(self.retry_delay_ms)),
        }
    }

    pub fn saga_deadlines(&self) -> SagaDeadlines {
        SagaDeadlines {
            stock: Duration::from_millis(self.stock_deadline_ms),
            payment: Duration::from_millis(self.payment_deadline_ms),
        }
    }

    pub fn gateway_settings(&self) -> SimulatedGatewaySettings {
        SimulatedGatewaySettings {
            latency: Duration::from_millis(self.payment_latency_ms),
            transient_failure_rate: self.payment_failure_rate.clamp(0.0, 1.0),
        }
    }
}
