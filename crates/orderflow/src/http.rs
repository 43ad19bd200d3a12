//! Serving the API of one process.

use std::net::SocketAddr;

use anyhow::Context as _;
use gateway::AppState;

use crate::config::HttpSettings;
use crate::supervisor::Supervisor;

/// Binds `listen` and serves the API within `limits` under the supervisor's shutdown signal;
/// returns the address bound (port 0 picks a free one).
pub(crate) async fn serve(
    supervisor: &mut Supervisor,
    listen: SocketAddr,
    state: AppState,
    limits: &HttpSettings,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let stop = supervisor.token();
    let state = AppState {
        trace_url: limits.trace_url.clone(),
        ..state
    };
    let app = gateway::router(state, &limits.request_limits());
    let connections = limits.connection_limits();
    supervisor.spawn("http", async move {
        gateway::server::serve(listener, app, connections, stop.cancelled_owned()).await;
    });
    Ok(addr)
}
