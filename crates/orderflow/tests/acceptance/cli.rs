//! `orderflow order …` against the running system: the CLI's answers are the server's JSON,
//! and a refused request shows its problems one field per line.

use std::process::Output;

use serde_json::Value;

use crate::helpers::spawn_app;

/// Runs the CLI against `base`; asynchronously, so that the server in this test's runtime
/// keeps answering.
async fn orderflow(base: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args(args)
        .args(["--url", base])
        .output()
        .await
        .expect("run orderflow")
}

/// Runs `orderflow token …` and returns the token it printed.
async fn token(args: &[&str]) -> String {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_orderflow"))
        .args(args)
        .output()
        .await
        .expect("run orderflow token");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("a token is text")
        .trim()
        .to_owned()
}

/// What a successful command printed, as JSON.
fn printed(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[tokio::test]
async fn an_order_placed_with_wait_is_printed_completed_then_read_and_listed() {
    let app = spawn_app().await;
    let email = "fay@example.com";

    let placed = orderflow(
        &app.base,
        &[
            "order",
            "place",
            "--email",
            email,
            "--item",
            "product-002:2",
            "--wait",
        ],
    )
    .await;

    let order = printed(&placed);
    assert_eq!(order["status"], "COMPLETED");
    assert_eq!(order["items"][0]["quantity"], 2);
    let id = order["order_id"].as_str().expect("an order id");
    let read = printed(&orderflow(&app.base, &["order", "get", id]).await);
    assert_eq!(read["order_id"], id);
    let data_dir = app.data_dir().to_str().expect("a UTF-8 path");
    let minted = token(&["token", "--email", email, "--data-dir", data_dir]).await;
    let listed = printed(
        &orderflow(
            &app.base,
            &["order", "list", "--status", "completed", "--token", &minted],
        )
        .await,
    );
    assert_eq!(listed["orders"][0]["order_id"], id);
    assert_eq!(listed["next_cursor"], Value::Null);
    let anonymous = orderflow(&app.base, &["order", "list"]).await;
    assert!(!anonymous.status.success());
    let shown = String::from_utf8_lossy(&anonymous.stderr);
    assert!(shown.contains("401 Unauthorized: "), "{shown}");
}

#[tokio::test]
async fn a_refused_order_is_shown_with_its_problems_one_field_per_line() {
    let app = spawn_app().await;

    let refused = orderflow(
        &app.base,
        &[
            "order",
            "place",
            "--email",
            "not-an-email",
            "--item",
            "product-001:0",
        ],
    )
    .await;

    assert!(!refused.status.success());
    let shown = String::from_utf8_lossy(&refused.stderr);
    assert!(
        shown.contains(
            "422 Unprocessable Entity: 2 problems with the request\n  \
             customer_email: `not-an-email` is not a valid email address\n  \
             items[0].quantity: quantity must be between 1 and 1000, got 0"
        ),
        "{shown}"
    );
}

#[tokio::test]
async fn a_cancel_of_a_completed_order_is_shown_as_a_conflict() {
    let app = spawn_app().await;
    let order = printed(
        &orderflow(
            &app.base,
            &[
                "order",
                "place",
                "--email",
                "gus@example.com",
                "--item",
                "product-002",
                "--wait",
            ],
        )
        .await,
    );
    let id = order["order_id"].as_str().expect("an order id");

    let refused = orderflow(
        &app.base,
        &["order", "cancel", id, "--token", &app.admin_token],
    )
    .await;

    assert!(!refused.status.success());
    let shown = String::from_utf8_lossy(&refused.stderr);
    assert!(shown.contains("409 Conflict: "), "{shown}");
}
