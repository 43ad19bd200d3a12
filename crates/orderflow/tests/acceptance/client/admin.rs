//! The admin routes through `api-client`: catalog and stock, the mailbox, dead letters and
//! the read model's rebuild, and the problem of a client without the admin token.

use api::{DeadLetter, ListQuery, NotificationQuery, Queue, StockAdjustment, StockView};
use api_client::{ApiClient, StatusCode};
use store_sqlite::SqliteQueue;
use transport::Publisher as _;

use super::{client_of, completed_order, eventually, problem};
use crate::dead_letters::poison;
use crate::helpers::spawn_app;

fn stock_of<'a>(levels: &'a [StockView], product_id: &str) -> &'a StockView {
    levels
        .iter()
        .find(|level| level.product_id == product_id)
        .expect("a known product")
}

/// A dead letter, other than the one with id `not` if given.
async fn parked(client: &ApiClient, not: Option<&str>) -> Option<DeadLetter> {
    let dead = client.dead_letters().await.expect("dead letters");
    dead.into_iter()
        .find(|letter| Some(letter.id.as_str()) != not)
}

#[tokio::test]
async fn the_catalog_and_stock_are_read_and_adjusted_through_the_client() {
    let app = spawn_app().await;
    let client = client_of(&app);

    let catalog = client.catalog().await.expect("the catalog");
    let before = client.stock_levels().await.expect("stock levels");
    let adjusted = client
        .adjust_stock("product-001", StockAdjustment { delta: 5 })
        .await
        .expect("adjusted");
    let after = client.stock_levels().await.expect("stock levels");

    assert!(
        catalog.iter().any(|item| item.id == "product-001"),
        "{catalog:?}"
    );
    assert_eq!(catalog.len(), before.len());
    let available = stock_of(&before, "product-001").available;
    assert_eq!(adjusted.available, available + 5);
    assert_eq!(stock_of(&after, "product-001"), &adjusted);
}

#[tokio::test]
async fn a_product_id_with_a_slash_reaches_the_server_as_one_path_segment() {
    let app = spawn_app().await;
    let client = client_of(&app);

    let error = client
        .adjust_stock("no such/product", StockAdjustment { delta: 1 })
        .await
        .expect_err("no such product");

    let (status, not_found) = problem(error);
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(not_found.detail, "no product with id no such/product");
}

#[tokio::test]
async fn an_admin_call_without_the_admin_token_is_an_unauthorized_problem() {
    let app = spawn_app().await;
    let client = ApiClient::new(&app.base).expect("a client without a token");

    let (status, unauthorized) = problem(client.stock_levels().await.expect_err("refused"));
    let (wrong_status, _) = problem(
        client
            .with_admin_token("not-the-token")
            .rebuild_projection()
            .await
            .expect_err("refused"),
    );

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(unauthorized.code, "unauthorized");
    assert_eq!(wrong_status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_emails_an_order_caused_are_read_through_the_client() {
    let app = spawn_app().await;
    let client = client_of(&app);
    let id = completed_order(&client, "dee@example.com").await;
    let of_the_order = NotificationQuery {
        order_id: Some(id),
        limit: Some(10),
    };

    let sent = eventually("the confirmation is sent", async || {
        let sent = client
            .notifications(&of_the_order)
            .await
            .expect("notifications");
        (!sent.is_empty()).then_some(sent)
    })
    .await;

    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].order_id, id);
    assert_eq!(sent[0].recipient, "dee@example.com");
}

#[tokio::test]
async fn a_dead_letter_is_listed_replayed_and_discarded_through_the_client() {
    let app = spawn_app().await;
    let client = client_of(&app);
    let message = poison();
    SqliteQueue::new(app.embedded().databases.clone())
        .publish(std::slice::from_ref(&message))
        .await
        .expect("publish");

    let first = eventually("dead-lettered", async || parked(&client, None).await).await;
    let replayed = client
        .replay_dead_letter(&first.id)
        .await
        .expect("replayed");
    let second = eventually("parked again", async || {
        parked(&client, Some(&first.id)).await
    })
    .await;
    client
        .discard_dead_letter(&second.id)
        .await
        .expect("discarded");

    assert_eq!(first.queue, Queue::Inventory);
    assert_eq!(first.attempts, 3);
    assert_eq!(first.envelope, message);
    assert_eq!(
        (replayed.id.as_str(), replayed.replayed),
        (first.id.as_str(), true)
    );
    assert_eq!(second.envelope.message_id, message.message_id);
    assert_eq!(client.dead_letters().await.expect("dead letters"), []);
    for gone in [first.id, second.id] {
        let (status, _) = problem(client.discard_dead_letter(&gone).await.expect_err("gone"));
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = problem(client.replay_dead_letter(&gone).await.expect_err("gone"));
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_rebuild_through_the_client_counts_the_views_it_wrote() {
    let app = spawn_app().await;
    let client = client_of(&app);
    completed_order(&client, "eve@example.com").await;
    completed_order(&client, "eve@example.com").await;
    let all = ListQuery::default();
    eventually("the read model has both", async || {
        let page = client.list_orders(&all).await.expect("a page");
        (page.orders.len() == 2).then_some(())
    })
    .await;

    let rebuilt = client.rebuild_projection().await.expect("rebuilt");

    assert_eq!(rebuilt.rebuilt, 2);
}
