//! A server that cannot be reached, or that never answers, is `ClientError::Unreachable`:
//! the one error a caller retries later or reports as an outage.

use std::time::Duration;

use api_client::{ApiClient, ClientError};
use tokio::net::TcpListener;

/// An address nothing listens on: a port the system just handed out and took back.
fn closed_address() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address")
}

#[tokio::test]
async fn a_server_that_refuses_connections_is_unreachable() {
    let client = ApiClient::new(&format!("http://{}", closed_address())).expect("a client");

    let error = client.catalog().await.expect_err("nothing listens");

    let ClientError::Unreachable { url, source } = &error else {
        panic!("not unreachable: {error:?}");
    };
    assert_eq!(url.path(), "/api/v1/catalog");
    assert!(source.is_connect(), "{source:?}");
    assert!(error.problem().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_is_unreachable_once_the_timeout_is_over() {
    // Connections are queued by the system but never accepted, so no answer ever comes.
    let silent = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let base = format!("http://{}", silent.local_addr().expect("its address"));
    let timeout = Duration::from_secs(5);
    let client = ApiClient::new(&base)
        .expect("a client")
        .with_timeout(timeout);
    let started = tokio::time::Instant::now();

    let error = client.stock_levels().await.expect_err("no answer");

    assert_eq!(started.elapsed(), timeout);
    let ClientError::Unreachable { source, .. } = &error else {
        panic!("not unreachable: {error:?}");
    };
    assert!(source.is_timeout(), "{source:?}");
}
