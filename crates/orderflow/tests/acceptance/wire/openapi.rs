//! The whole OpenAPI document, so that a change to the API's description is a diff to review.

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_describes_the_api_as_it_is() {
    let app = spawn_app().await;

    let document = app.seen_get("/openapi.json").await;

    assert_eq!(document.body()["info"]["title"], "Orderflow API");
    insta::assert_json_snapshot!("openapi", document);
}
