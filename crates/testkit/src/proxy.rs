//! A TCP proxy on loopback, between a test's processes and a real server (PostgreSQL, RabbitMQ,
//! Redis), that the test can take down and bring back: an outage of a dependency that other
//! tests share, without stopping it.
//!
//! Down, the proxy drops every connection it carries and refuses new ones (its port is closed);
//! up, it listens on the same port again and forwards. It never reads what it forwards.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How long bringing the proxy back may wait for its port to be free again.
const REBIND_TIMEOUT: Duration = Duration::from_secs(10);

/// A proxy to one server, up until [`Proxy::take_down`].
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    up: watch::Sender<bool>,
    /// Tells whether the proxy is listening: `Some(true)` up, `Some(false)` down.
    state: watch::Receiver<Option<bool>>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (`host:port`) on a free loopback port.
    ///
    /// # Errors
    /// When no loopback port can be bound.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("bind the proxy")?;
        let addr = listener.local_addr().context("the proxy's address")?;
        let (up, up_wanted) = watch::channel(true);
        let (report, state) = watch::channel(None);
        let task = tokio::spawn(serve(
            listener,
            addr,
            upstream.to_owned(),
            up_wanted,
            report,
        ));
        let mut proxy = Self {
            addr,
            up,
            state,
            task,
        };
        proxy.settled(true).await;
        Ok(proxy)
    }

    /// Starts a proxy to the server of `url` (`scheme://[user@]host:port/...`) and returns it
    /// with `url` rewritten to go through it.
    ///
    /// # Errors
    /// When `url` names no `host:port`, or no loopback port can be bound.
    pub async fn in_front_of(url: &str) -> anyhow::Result<(Self, String)> {
        let (_, host_port) = host_port(url).with_context(|| format!("no host:port in {url}"))?;
        let proxy = Self::start(host_port).await?;
        let routed = proxy.route(url)?;
        Ok((proxy, routed))
    }

    /// `url` with its `host:port` replaced by the proxy's, credentials and path kept.
    ///
    /// # Errors
    /// When `url` names no `host:port`.
    pub fn route(&self, url: &str) -> anyhow::Result<String> {
        let (start, host_port) =
            host_port(url).with_context(|| format!("no host:port in {url}"))?;
        let end = start + host_port.len();
        Ok(format!("{}{}{}", &url[..start], self.addr, &url[end..]))
    }

    /// Where the proxy listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Drops every open connection and refuses new ones; returns once that is so.
    pub async fn take_down(&mut self) {
        self.up.send_replace(false);
        self.settled(false).await;
    }

    /// Listens and forwards again; returns once it does.
    ///
    /// # Panics
    /// When the proxy's port was taken by someone else meanwhile.
    pub async fn bring_back(&mut self) {
        self.up.send_replace(true);
        self.settled(true).await;
    }

    async fn settled(&mut self, up: bool) {
        let reached = self
            .state
            .wait_for(|state| *state == Some(up) || self.task.is_finished())
            .await;
        assert!(
            reached.is_ok() && !self.task.is_finished(),
            "the proxy at {} stopped (its port was taken?)",
            self.addr
        );
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where the `host:port` of a url (`scheme://[user@]host:port/...`) starts, and what it is.
fn host_port(url: &str) -> Option<(usize, &str)> {
    let authority_start = url.find("://")? + 3;
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let start = authority
        .rfind('@')
        .map_or(authority_start, |at| authority_start + at + 1);
    let host_port = &url[start..authority_end];
    host_port.contains(':').then_some((start, host_port))
}

/// Forwards while up; while down, holds no listener and no connection.
async fn serve(
    listener: TcpListener,
    addr: SocketAddr,
    upstream: String,
    mut up_wanted: watch::Receiver<bool>,
    report: watch::Sender<Option<bool>>,
) {
    let mut listener = Some(listener);
    loop {
        let Some(current) = listener.take() else {
            return;
        };
        let connections = CancellationToken::new();
        report.send_replace(Some(true));
        loop {
            tokio::select! {
                changed = up_wanted.wait_for(|up| !*up) => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                accepted = current.accept() => {
                    if let Ok((client, _)) = accepted {
                        tokio::spawn(forward(client, upstream.clone(), connections.child_token()));
                    }
                }
            }
        }
        connections.cancel();
        drop(current);
        report.send_replace(Some(false));
        if up_wanted.wait_for(|up| *up).await.is_err() {
            return;
        }
        listener = rebind(addr).await;
    }
}

/// The proxy's port again; `None` (the proxy stops) if it stays taken.
async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    let deadline = tokio::time::Instant::now() + REBIND_TIMEOUT;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return Some(listener),
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(_) => return None,
        }
    }
}

/// Copies both ways until either side closes or the proxy goes down; then drops both sockets.
async fn forward(mut client: TcpStream, upstream: String, down: CancellationToken) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        () = down.cancelled() => {}
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// A server that answers every line with the same line.
    async fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut read, mut write) = socket.split();
                    let _ = tokio::io::copy(&mut read, &mut write).await;
                });
            }
        });
        addr
    }

    async fn echo(stream: &mut TcpStream, text: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(text).await?;
        let mut answer = vec![0; text.len()];
        stream.read_exact(&mut answer).await?;
        Ok(answer)
    }

    #[tokio::test]
    async fn a_proxy_forwards_while_up_drops_and_refuses_while_down_and_forwards_again() {
        let server = echo_server().await;
        let mut proxy = Proxy::start(&server.to_string()).await.expect("proxy");
        let mut open = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(echo(&mut open, b"one").await.expect("echo"), b"one");

        proxy.take_down().await;

        assert!(
            echo(&mut open, b"two").await.is_err(),
            "an open connection is dropped"
        );
        assert!(
            TcpStream::connect(proxy.addr()).await.is_err(),
            "a new connection is refused"
        );

        proxy.bring_back().await;

        let mut again = TcpStream::connect(proxy.addr()).await.expect("connect");
        assert_eq!(echo(&mut again, b"three").await.expect("echo"), b"three");
    }

    #[tokio::test]
    async fn a_url_is_rewritten_to_go_through_the_proxy_keeping_credentials_and_path() {
        let (proxy, url) = Proxy::in_front_of("amqp://guest:guest@127.0.0.1:5672/%2f")
            .await
            .expect("proxy");
        assert_eq!(url, format!("amqp://guest:guest@{}/%2f", proxy.addr()));
        let (proxy, url) = Proxy::in_front_of("redis://127.0.0.1:6379")
            .await
            .expect("proxy");
        assert_eq!(url, format!("redis://{}", proxy.addr()));
        assert!(Proxy::in_front_of("not a url").await.is_err());
    }
}
