//! Rebuilding the read model from the kept events (invariant 4).

use api::ListQuery;
use order_domain::OrderStatus;
use store::query::QueryStore as _;

use crate::helpers::{at, cancelled_order, completed_order, ids, new_order_id, spawn_app};

#[tokio::test]
async fn a_rebuild_yields_the_same_views_and_repairs_one_that_drifted() {
    let app = spawn_app().await;
    let (completed, cancelled) = (new_order_id(), new_order_id());
    app.deliver(&completed_order(
        completed,
        "ada@example.com",
        "product-001",
        at(0),
    ))
    .await;
    app.deliver(&cancelled_order(cancelled, "bob@example.com", at(5)))
        .await;
    let before = app.list(ListQuery::default()).await;

    // A view written by some older, buggy build.
    let mut drifted = app
        .service
        .order(completed)
        .await
        .expect("read the view")
        .expect("a view");
    drifted.status = "PENDING".into();
    drifted.history.clear();
    let mut tx = app.store.begin().await.expect("begin");
    tx.save_view(&drifted).await.expect("save the drifted view");
    tx.commit().await.expect("commit");

    let rebuilt = app.service.rebuild().await.expect("rebuild the read model");

    assert_eq!(rebuilt, 2);
    assert_eq!(app.list(ListQuery::default()).await, before);
    let status = ListQuery {
        status: Some(OrderStatus::Completed),
        ..ListQuery::default()
    };
    assert_eq!(
        ids(&app.list(status).await),
        [completed],
        "the status column is rebuilt too"
    );
}
