//! `orderflow`: runs the embedded system, or talks to a running one.

use clap::Parser as _;
use orderflow::cli::{Cli, Command};
use orderflow::client::Client;
use orderflow::config::RunConfig;
use orderflow::embedded::Embedded;
use orderflow::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None => run(&cli.run).await,
        Some(Command::Run(config)) => run(&config).await,
        Some(Command::Order { server, command }) => {
            print(Client::new(&server.url)?.order(command).await?)
        }
        Some(Command::Dlq {
            server,
            admin,
            command,
        }) => print(Client::new(&server.url)?.dlq(&admin, command).await?),
    }
}

async fn run(config: &RunConfig) -> anyhow::Result<()> {
    telemetry::init_logging();
    let system = Embedded::start(config).await?;
    println!(
        "Orderflow is listening on http://{} (API docs at /docs)",
        system.addr
    );
    let shutdown = system.shutdown_token();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight work");
        shutdown.cancel();
    });
    system.wait().await
}

async fn wait_for_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => return std::future::pending().await,
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

fn print(value: serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}
