//! Serving the API of one process.

use std::net::SocketAddr;

use anyhow::Context as _;
use gateway::AppState;
use tracing::error;

use crate::supervisor::Supervisor;

/// Binds `listen` and serves the API under the supervisor's shutdown signal; returns the
/// address bound (port 0 picks a free one).
pub(crate) async fn serve(
    supervisor: &mut Supervisor,
    listen: SocketAddr,
    state: AppState,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let stop = supervisor.token();
    supervisor.spawn("http", async move {
        let served = axum::serve(listener, gateway::router(state))
            .with_graceful_shutdown(stop.cancelled_owned())
            .await;
        if let Err(error) = served {
            error!(error = format!("{error:#}"), "http server failed");
        }
    });
    Ok(addr)
}
