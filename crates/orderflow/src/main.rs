//! `orderflow`: runs the embedded system, or talks to a running one.

use clap::Parser as _;
use orderflow::cli::{Cli, Command};
use orderflow::client::Client;
use orderflow::config::{Backend, Peers, RunConfig, ServeConfig};
use orderflow::embedded::Embedded;
use orderflow::scaled::{Scaled, ServiceName};
use orderflow::telemetry;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    orderflow::tls::install_crypto_provider();
    orderflow::cli::load_config_file()?;
    let cli = Cli::parse();
    match cli.command {
        None => run(&cli.run).await,
        Some(Command::Run(config)) => run(&config).await,
        Some(Command::Serve { services, config }) => serve(&services, &config).await,
        Some(Command::Migrate { backends }) => {
            telemetry::init_logging();
            orderflow::scaled::create_database_if_missing(&backends.database_url).await?;
            store_postgres::migrate_all(&backends.database_url).await?;
            println!("migrations applied");
            Ok(())
        }
        Some(Command::Order {
            server,
            token,
            command,
        }) => print(
            Client::new(&server.url)?
                .with_token(token.token)
                .order(command)
                .await?,
        ),
        Some(Command::Token(args)) => {
            println!("{}", orderflow::identity::mint_token(&args)?);
            Ok(())
        }
        Some(Command::Dlq {
            server,
            admin,
            command,
        }) => print(Client::new(&server.url)?.dlq(&admin, command).await?),
        Some(Command::Bench(args)) => std::process::exit(orderflow::bench::run(&args).await?),
        Some(Command::Seed(args)) => {
            telemetry::init_logging();
            orderflow::seed::run(&args).await
        }
        Some(Command::Verify(args)) => {
            std::process::exit(orderflow::verify::run(&args).await as i32)
        }
        Some(Command::Archive(args)) => {
            std::process::exit(orderflow::archive::run(&args).await as i32)
        }
    }
}

async fn run(config: &RunConfig) -> anyhow::Result<()> {
    // Every service in one process: `orderflow`, embedded or scaled out.
    let telemetry = telemetry::init("orderflow");
    let ran = run_system(config).await;
    flush(telemetry).await;
    ran
}

async fn run_system(config: &RunConfig) -> anyhow::Result<()> {
    if config.backend == Backend::Scaled {
        let serve_config = ServeConfig {
            listen: config.listen,
            admin_token: orderflow::embedded::admin_token(config)?,
            identity: config.identity.with_kept_secret(&config.data_dir)?,
            backends: config.backends.clone(),
            peers: Peers::default(),
            settings: config.settings.clone(),
            http: config.http.clone(),
        };
        return serve_services(&ServiceName::ALL, &serve_config).await;
    }
    let system = Embedded::start(config).await?;
    println!(
        "Orderflow is listening on http://{addr} (API docs at /docs, dashboard at http://{addr}/dashboard)",
        addr = system.addr
    );
    stop_on_signal(system.shutdown_token());
    system.wait().await
}

async fn serve(services: &[ServiceName], config: &ServeConfig) -> anyhow::Result<()> {
    let telemetry = telemetry::init(&service_name(services));
    let served = serve_services(services, config).await;
    flush(telemetry).await;
    served
}

/// The `service.name` of a process's spans: `orderflow-order` for `orderflow serve order`,
/// `orderflow` for a process of several services (and the embedded one).
fn service_name(services: &[ServiceName]) -> String {
    use clap::ValueEnum as _;
    match services {
        [one] => one.to_possible_value().map_or_else(
            || "orderflow".to_owned(),
            |value| format!("orderflow-{}", value.get_name()),
        ),
        _ => "orderflow".to_owned(),
    }
}

/// Exports the spans still buffered, off the runtime's workers (the exporter blocks).
async fn flush(telemetry: telemetry::Telemetry) {
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown()).await;
}

async fn serve_services(services: &[ServiceName], config: &ServeConfig) -> anyhow::Result<()> {
    let process = Scaled::start(services, config).await?;
    println!(
        "Orderflow {services:?} listening on http://{}",
        process.addr
    );
    stop_on_signal(process.shutdown_token());
    process.wait().await
}

fn stop_on_signal(shutdown: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown signal received; finishing in-flight work");
        shutdown.cancel();
    });
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
