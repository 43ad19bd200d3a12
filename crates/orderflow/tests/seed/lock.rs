//! One process at a time in a data directory: a server, or a seed.

use std::process::Command;

use orderflow::config::RunConfig;
use orderflow::embedded::Embedded;
use orderflow::seed::seed_embedded;

use crate::options;

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused_until_the_first_stops() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let config = RunConfig::for_tests(data_dir.path().to_path_buf());
    let first = Embedded::start(&config).await.expect("the first starts");

    let refused = Embedded::start(&config).await.err().expect("refused");
    first.stop().await.expect("stopped");
    let again = Embedded::start(&config)
        .await
        .expect("starts once it is free");
    again.stop().await.expect("stopped");

    let message = format!("{refused:#}");
    assert!(
        message.contains("in use by another orderflow process"),
        "{message}"
    );
    assert!(
        message.contains(&std::process::id().to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn seeding_a_data_dir_a_server_holds_is_refused_and_writes_nothing() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let config = RunConfig::for_tests(data_dir.path().to_path_buf());
    let server = Embedded::start(&config).await.expect("a server starts");

    let refused = seed_embedded(data_dir.path(), &options(10)).await.err();
    let verified = orderflow::verify::verify_embedded(data_dir.path(), &crate::AT_ONCE)
        .await
        .expect("checked");
    server.stop().await.expect("stopped");

    let message = format!("{:#}", refused.expect("refused"));
    assert!(
        message.contains("in use by another orderflow process"),
        "{message}"
    );
    assert_eq!(verified.checked.orders, 0, "{verified}");
}

#[tokio::test]
async fn the_seed_command_refuses_a_data_dir_held_by_a_server_with_a_clear_message() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let config = RunConfig::for_tests(data_dir.path().to_path_buf());
    let server = Embedded::start(&config).await.expect("a server starts");

    let seed = tokio::task::spawn_blocking({
        let data_dir = data_dir.path().to_path_buf();
        move || {
            Command::new(env!("CARGO_BIN_EXE_orderflow"))
                .args(["seed", "--orders", "10", "--data-dir"])
                .arg(&data_dir)
                .env("RUST_LOG", "warn")
                .output()
                .expect("run orderflow seed")
        }
    })
    .await
    .expect("joined");
    server.stop().await.expect("stopped");

    assert!(!seed.status.success());
    let stderr = String::from_utf8_lossy(&seed.stderr);
    assert!(
        stderr.contains("is in use by another orderflow process"),
        "{stderr}"
    );
}
