//! The workload: orders of mixed outcome, drawn from a seed, whose outcome does not depend on
//! timing, so a run with hostile delivery must end exactly like a clean one.
//!
//! - Orders that complete buy product-002 and product-003, restocked far beyond demand first,
//!   so they never contend for stock.
//! - Orders for more than the stock ask product-001 for more than its 100 units; nothing else
//!   buys product-001, so the reason is always the same.
//! - Declined orders use the declined test card.
//! - Orders that time out, and orders their customer cancels, use the held test card, which the
//!   simulated gateway answers only after the payment deadline: the first always times out
//!   (and its late charge is refunded), the second is always cancelled first (at a seeded
//!   moment after it was accepted, well before the deadline).

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::api::Api;

/// How long the saga waits for a payment: far beyond what a payment takes, even under faults
/// on a busy 2-core machine (3 s, then 10 s, were not always enough on the cluster there).
pub(crate) const PAYMENT_DEADLINE: Duration = Duration::from_secs(15);
/// How long the gateway holds a charge with the held card: well beyond the deadline and its
/// timer.
pub(crate) const PAYMENT_HOLD: Duration = Duration::from_secs(25);
/// The latest a customer cancels after the order was accepted: well before the deadline.
const LATEST_CANCEL: Duration = Duration::from_secs(2);
/// Units added to the products that orders buy, so they never run out.
const RESTOCK: i64 = 1_000_000;

/// The seed of a run, from `ORDERFLOW_TEST_SEED`, with how to repeat it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Seed {
    pub(crate) value: u64,
    test: &'static str,
}

impl Seed {
    /// The seed to use: `ORDERFLOW_TEST_SEED` if set, else `default` (fixed, so CI repeats).
    pub(crate) fn from_env(default: u64, test: &'static str) -> Self {
        let value = std::env::var("ORDERFLOW_TEST_SEED").map_or(default, |raw| {
            raw.parse().expect("ORDERFLOW_TEST_SEED is a number")
        });
        println!("{}", Seed { value, test });
        Seed { value, test }
    }

    /// The fault-injection setting of the hostile run.
    pub(crate) fn faults(self) -> String {
        format!(
            "seed={},duplicate=0.2,republish=0.1,reorder=8:20ms,delay=0.2:250ms,drop_ack=0.1",
            self.value
        )
    }
}

impl std::fmt::Display for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "seed {0}; repeat with ORDERFLOW_TEST_SEED={0} cargo test -p orderflow --test {1}",
            self.value, self.test
        )
    }
}

/// What an order is meant to end as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Completes,
    Declined,
    OutOfStock,
    CustomerCancels,
    PaymentTimesOut,
}

/// One order of the workload.
#[derive(Clone, Debug)]
pub(crate) struct Planned {
    pub(crate) kind: Kind,
    pub(crate) body: Value,
    cancel_after: Duration,
}

/// `count` orders drawn from `seed`.
pub(crate) fn plan(seed: Seed, count: usize) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed.value);
    (0..count)
        .map(|index| {
            let kind = match rng.random_range(0..100) {
                0..45 => Kind::Completes,
                45..60 => Kind::Declined,
                60..70 => Kind::OutOfStock,
                70..85 => Kind::CustomerCancels,
                _ => Kind::PaymentTimesOut,
            };
            let token = match kind {
                Kind::Completes | Kind::OutOfStock => "tok_visa",
                Kind::Declined => "tok_chargeDeclined",
                Kind::CustomerCancels | Kind::PaymentTimesOut => "tok_chargeHeld",
            };
            let mut items = vec![json!({
                "product_id": if rng.random_bool(0.5) { "product-002" } else { "product-003" },
                "quantity": rng.random_range(1..=5),
            })];
            if kind == Kind::OutOfStock {
                items.push(json!({
                    "product_id": "product-001",
                    "quantity": rng.random_range(101..=1000),
                }));
            } else if rng.random_bool(0.3) {
                items.push(json!({ "product_id": "product-003", "quantity": 1 }));
            }
            let body = json!({
                "customer_email": format!("customer{index}@example.com"),
                "items": items,
                "payment_token": token,
            });
            let cancel_after = rng.random_range(Duration::ZERO..=LATEST_CANCEL);
            Planned {
                kind,
                body,
                cancel_after,
            }
        })
        .collect()
}

/// Places every planned order, in order, keeping at most `parallel` of those that keep the
/// system busy in flight (closed loop); orders that only wait for their payment do not hold a
/// place. Cancels as planned. Returns the order ids, by plan index.
pub(crate) async fn place_all(api: &Api, plan: &[Planned], parallel: usize) -> Vec<String> {
    for product in ["product-002", "product-003"] {
        api.restock(product, RESTOCK).await;
    }
    let places = Arc::new(Semaphore::new(parallel));
    let mut running = JoinSet::new();
    for (index, planned) in plan.iter().cloned().enumerate() {
        let place = places.clone().acquire_owned().await.expect("semaphore");
        let api = api.clone();
        running.spawn(async move {
            let id = api.place(&planned.body).await;
            match planned.kind {
                Kind::Completes | Kind::Declined | Kind::OutOfStock => {
                    wait_until_terminal(&api, &id).await;
                    drop(place);
                }
                Kind::PaymentTimesOut => drop(place),
                Kind::CustomerCancels => {
                    drop(place);
                    tokio::time::sleep(planned.cancel_after).await;
                    api.cancel(&id).await;
                }
            }
            (index, id)
        });
    }
    let mut ids = vec![String::new(); plan.len()];
    for (index, id) in running.join_all().await {
        ids[index] = id;
    }
    ids
}

fn is_terminal(status: &str) -> bool {
    matches!(status, "COMPLETED" | "CANCELLED")
}

async fn wait_until_terminal(api: &Api, order_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let view = api.order(order_id).await;
        if is_terminal(&view.status) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "order {order_id} is not terminal after 2 minutes: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every order is terminal and nothing is in flight any more (queues, outboxes,
/// retries) for several looks in a row.
pub(crate) async fn wait_until_settled<F, Fut>(
    api: &Api,
    ids: &[String],
    messages_in_flight: F,
    seed: Seed,
) where
    F: Fn() -> Fut,
    Fut: Future<Output = u64>,
{
    for id in ids {
        wait_until_terminal(api, id).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let mut quiet_looks = 0;
    while quiet_looks < 4 {
        let in_flight = messages_in_flight().await;
        quiet_looks = if in_flight == 0 { quiet_looks + 1 } else { 0 };
        assert!(
            tokio::time::Instant::now() < deadline,
            "{in_flight} messages still in flight after 3 minutes; {seed}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
