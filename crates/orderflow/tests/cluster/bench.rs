//! `orderflow bench` briefly against the local cluster, through its gateway: the stream of
//! order updates is relayed from the order process, every order ends, and `verify` finds the
//! databases and queues consistent. Not how fast.

use std::time::Duration;

use api_client::ApiClient;
use orderflow::bench::{Load, Mix, Plan, Stop, bench};
use orderflow::verify::{Broker, Options, verify_scaled};

use crate::harness::{ADMIN_TOKEN, Cluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mixed_bench_of_300_orders_through_the_gateway_sees_every_order_end_and_verifies_clean() {
    let cluster = Cluster::start(1, &[]).await;
    let client = ApiClient::new(&cluster.gateway)
        .expect("client")
        .with_admin_token(ADMIN_TOKEN);
    let plan = Plan {
        load: Load::Closed { concurrency: 8 },
        stop: Stop::Orders(300),
        mix: Mix {
            decline_share: 0.1,
            insufficient_share: 0.1,
            multi_item_share: 0.1,
        },
        patience: Duration::from_secs(120),
        progress: false,
        retry_refused: false,
    };

    let report = bench(&client, &plan).await.expect("bench runs");

    assert_eq!(report.accepted, 300, "{report}");
    assert!(report.every_order_ended(), "{report}\n{}", cluster.logs());
    assert!(report.cancelled >= 30, "{report}");
    let database_url = cluster.database_url().to_owned();
    let broker = Broker {
        url: transport_amqp::testing::amqp_url(),
        prefix: cluster.amqp_prefix.clone(),
    };
    let options = Options {
        deadline_grace: Duration::ZERO,
        settle: Duration::ZERO,
        ..Options::default()
    };
    // The machine is busy: a connection that times out is tried again, like a dirty report.
    let mut last = String::new();
    let mut clean = false;
    for _ in 0..60 {
        match verify_scaled(&database_url, Some(&broker), &options).await {
            Ok(report) if report.is_clean() => {
                clean = true;
                break;
            }
            Ok(report) => last = report.to_string(),
            Err(error) => last = format!("{error:#}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(clean, "verify is not clean: {last}");
    cluster.remove().await;
}
