//! `orderflow bench`: a load generator against any running Orderflow. It places orders in a
//! mix (ordinary, multi-item, declined, more than the stock), closed loop or open loop, learns
//! when each ends from the server's stream of order updates, and reports counts, sagas/s (in
//! all, and while the load ran), the latencies of accepted and of refused POSTs, POST→terminal
//! and accepted→terminal (HDR histograms), and its own overhead.
//!
//! It is a client like any other: it only calls the public API through [`ApiClient`].

mod load;
mod mix;
mod progress;
mod report;
mod tracker;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use api::StockAdjustment;
use api_client::ApiClient;

pub use mix::Mix;
pub use report::{Latency, Overhead, Report};

/// How `orderflow bench` loads the server.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Base URL of the Orderflow API.
    #[arg(long, env = "ORDERFLOW_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// Closed loop: this many customers, each waiting for its order to end before the next.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Open loop instead: orders per second, sent whether or not earlier ones ended.
    #[arg(long)]
    pub rate: Option<f64>,
    /// How long to send orders, e.g. `30s`, `2m`, `500ms`.
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub duration: Duration,
    /// Send this many orders instead of running for `--duration`.
    #[arg(long)]
    pub orders: Option<u64>,
    /// Share of orders whose payment is declined.
    #[arg(long, default_value_t = 0.0)]
    pub decline_share: f64,
    /// Share of orders of more than any stock.
    #[arg(long, default_value_t = 0.0)]
    pub insufficient_share: f64,
    /// Share of orders of two products.
    #[arg(long, default_value_t = 0.0)]
    pub multi_item_share: f64,
    /// How long to wait for an order to end before counting it unfinished.
    #[arg(long, value_parser = parse_duration, default_value = "120s")]
    pub patience: Duration,
    /// Add this many units of each product ordinary orders buy before the run, so a long
    /// run does not run out of stock.
    #[arg(long)]
    pub restock: Option<u32>,
    /// The admin token: the stream of every order's updates is the admin's. Read from
    /// `<data dir>/admin-token` when not given.
    #[arg(long, env = "ORDERFLOW_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Data directory of an embedded server, to read its admin token from.
    #[arg(long, env = "ORDERFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Place a refused order again (a `503` or `429` after its `Retry-After`, no answer after
    /// a second, each retry waiting twice as long up to 16 s) under the same idempotency key,
    /// as a patient client would, until accepted or out of patience; refusals retried are
    /// counted apart from the final ones.
    #[arg(long)]
    pub retry_refused: bool,
}

/// The load's shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Load {
    Closed { concurrency: usize },
    Open { rate: f64 },
}

/// When to stop sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    After(Duration),
    Orders(u64),
}

/// A run, as the library runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub load: Load,
    pub stop: Stop,
    pub mix: Mix,
    pub patience: Duration,
    /// Show a progress bar on stderr (drawn only when it is a terminal).
    pub progress: bool,
    /// Place a refused order again, under the same idempotency key.
    pub retry_refused: bool,
}

impl BenchArgs {
    fn plan(&self) -> Plan {
        Plan {
            load: match self.rate {
                Some(rate) => Load::Open { rate },
                None => Load::Closed {
                    concurrency: self.concurrency,
                },
            },
            stop: self.orders.map_or(Stop::After(self.duration), Stop::Orders),
            mix: Mix {
                decline_share: self.decline_share,
                insufficient_share: self.insufficient_share,
                multi_item_share: self.multi_item_share,
            },
            patience: self.patience,
            progress: true,
            retry_refused: self.retry_refused,
        }
    }
}

/// `orderflow bench`: runs, prints the report, writes it as JSON when asked. Exits 0 when
/// every accepted order ended, 1 otherwise.
///
/// # Errors
/// When the server cannot be reached or the JSON file cannot be written.
pub async fn run(args: &BenchArgs) -> anyhow::Result<i32> {
    let token = match &args.admin_token {
        Some(token) => token.clone(),
        None => std::fs::read_to_string(args.data_dir.join("admin-token"))
            .map(|token| token.trim().to_owned())
            .context(
                "orderflow bench follows every order's updates, which needs the admin token: \
                 pass --admin-token or set ORDERFLOW_ADMIN_TOKEN",
            )?,
    };
    let client = ApiClient::new(&args.url)?.with_admin_token(token);
    if let Some(units) = args.restock {
        for product in mix::STOCKED_PRODUCTS {
            let adjustment = StockAdjustment {
                delta: i64::from(units),
            };
            client
                .adjust_stock(product, adjustment)
                .await
                .with_context(|| format!("restock {product}"))?;
        }
    }
    let report = bench(&client, &args.plan()).await?;
    println!("{report}");
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(if report.every_order_ended() { 0 } else { 1 })
}

/// Runs `plan` against the server of `client` and reports what it measured. `client` needs
/// the admin token, to follow every order's updates; it places the orders anonymously.
///
/// # Errors
/// When the stream of order updates cannot be opened.
pub async fn bench(client: &ApiClient, plan: &Plan) -> anyhow::Result<Report> {
    let (tracker, follower) = tracker::Tracker::start(client.clone())
        .await
        .context("subscribe to order updates")?;
    let cpu_before = report::cpu_seconds();
    let run = Arc::new(load::Run::new(client.clone(), tracker.clone(), plan)?);
    let progress = plan.progress.then(|| progress::show(run.clone()));
    load::drive(run.clone(), plan.load).await;
    let elapsed = run.start.elapsed();
    let load = run.load_duration();
    if let Some(progress) = progress {
        progress.abort();
    }
    follower.abort();
    let cpu_seconds = cpu_before
        .zip(report::cpu_seconds())
        .map(|(before, after)| after - before);
    let overhead = Overhead {
        cpu_seconds,
        cpu_share: cpu_seconds.map(|cpu| cpu / elapsed.as_secs_f64().max(f64::EPSILON)),
        stream_messages: tracker.messages.load(Ordering::Relaxed),
        order_reads: tracker.reads.load(Ordering::Relaxed),
    };
    let mode = match plan.load {
        Load::Closed { concurrency } => format!("closed loop, {concurrency} workers"),
        Load::Open { rate } => format!("open loop, {rate} orders/s"),
    };
    let tally = run
        .tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(Report::new(
        client.base().to_string(),
        mode,
        (elapsed, load),
        &tally,
        overhead,
    ))
}

/// `30s`, `2m`, `500ms`, or a number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((text, "s"), |at| text.split_at(at));
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text} is not a duration like 30s"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return Err(format!("{text}: the unit must be ms, s, m or h")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|error| format!("{text}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_their_unit() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3d").is_err());
    }
}
