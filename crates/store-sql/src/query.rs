//! The read model's columns: a view as JSON beside the columns the read API filters, searches
//! and pages on, and the list query over them. The list query is the same SQL in both dialects
//! (row-value comparison, `LIKE ... ESCAPE`); `QueryBuilder` writes each dialect's placeholders.

use query_domain::OrderView;
use sqlx::{Database, Encode, QueryBuilder, Type};
use store::StoreError;
use store::query::OrderFilter;

use crate::corrupt;
use crate::value::to_limit;

/// What free-text search matches: the order id, the customer's email and the product ids, in
/// lowercase.
pub fn search_text(view: &OrderView) -> String {
    let mut parts = vec![view.order_id.to_string(), view.customer_email.clone()];
    parts.extend(view.items.iter().map(|item| item.product_id.clone()));
    parts.join(" ").to_lowercase()
}

/// Makes `%`, `_` and the escape character itself match literally in a `LIKE ... ESCAPE '\'`.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

/// A view as the JSON its `view` column holds.
///
/// # Errors
/// [`StoreError::Unexpected`] when it cannot be serialized.
pub fn view_json(view: &OrderView) -> store::Result<String> {
    serde_json::to_string(view).map_err(|error| StoreError::Unexpected(error.into()))
}

/// A `view` column, as [`view_json`] wrote it.
///
/// # Errors
/// [`StoreError::Unexpected`] when it is not a view.
pub fn parse_view(raw: &str) -> store::Result<OrderView> {
    serde_json::from_str(raw).map_err(|error| corrupt("order view", error))
}

/// `SELECT view FROM order_views` for `filter`, newest first: only the owner's orders when
/// there is one (an [`Email`](contracts::value::Email) is lowercase), email compared in lowercase,
/// status in uppercase, free text as a literal lowercase substring of [`search_text`], paged
/// strictly before `(created_at, order_id)`.
pub fn list_views_query<DB>(filter: &OrderFilter) -> QueryBuilder<DB>
where
    DB: Database,
    for<'t> String: Encode<'t, DB> + Type<DB>,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
{
    let mut sql = QueryBuilder::<DB>::new("SELECT view FROM order_views WHERE 1 = 1");
    if let Some(owner) = &filter.owner {
        sql.push(" AND customer_email = ")
            .push_bind(owner.as_str().to_owned());
    }
    if let Some(email) = &filter.customer_email {
        sql.push(" AND customer_email = ")
            .push_bind(email.trim().to_lowercase());
    }
    if let Some(status) = &filter.status {
        sql.push(" AND status = ")
            .push_bind(status.as_str().to_owned());
    }
    if let Some(text) = &filter.text {
        let pattern = format!("%{}%", escape_like(&text.trim().to_lowercase()));
        sql.push(" AND search_text LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\'");
    }
    if let Some((created_at_ms, order_id)) = filter.before {
        sql.push(" AND (created_at, order_id) < (")
            .push_bind(created_at_ms)
            .push(", ")
            .push_bind(order_id.to_string())
            .push(")");
    }
    sql.push(" ORDER BY created_at DESC, order_id DESC LIMIT ")
        .push_bind(to_limit(filter.limit));
    sql
}

#[cfg(test)]
mod tests {
    use contracts::value::OrderId;
    use order_domain::OrderStatus;
    use query_domain::OrderViewItem;
    use sqlx::{Postgres, Sqlite};
    use time::OffsetDateTime;
    use uuid::Uuid;

    use super::*;

    fn view() -> OrderView {
        let item = |product_id: &str| OrderViewItem {
            product_id: product_id.into(),
            name: "Thing".into(),
            quantity: 1,
            unit_price: "1.00".into(),
            line_total: "1.00".into(),
        };
        OrderView {
            order_id: Uuid::now_v7(),
            status: "PENDING".into(),
            customer_email: "Ada@Example.com".into(),
            items: vec![item("Product-001"), item("product-002")],
            total: "2.00".into(),
            total_minor: 200,
            currency: "USD".into(),
            cancellation_reason: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
            updated_at: OffsetDateTime::UNIX_EPOCH,
            history: Vec::new(),
        }
    }

    #[test]
    fn like_wildcards_in_search_text_match_literally() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("product-001"), "product-001");
    }

    #[test]
    fn search_text_holds_the_order_id_email_and_product_ids_in_lowercase() {
        let view = view();
        assert_eq!(
            search_text(&view),
            format!("{} ada@example.com product-001 product-002", view.order_id)
        );
    }

    #[test]
    fn a_view_comes_back_from_its_json_and_other_json_is_corrupt() {
        let view = view();
        let json = view_json(&view).expect("json");
        assert_eq!(parse_view(&json).expect("a view"), view);
        assert!(matches!(parse_view("[]"), Err(StoreError::Unexpected(_))));
    }

    #[test]
    fn an_empty_filter_lists_newest_first_up_to_the_limit() {
        let filter = OrderFilter {
            limit: 20,
            ..OrderFilter::default()
        };
        assert_eq!(
            list_views_query::<Sqlite>(&filter).sql().as_str(),
            "SELECT view FROM order_views WHERE 1 = 1 \
             ORDER BY created_at DESC, order_id DESC LIMIT ?"
        );
    }

    #[test]
    fn every_filter_adds_its_condition_with_the_dialects_placeholders() {
        let filter = OrderFilter {
            owner: Some(contracts::value::Email::parse("ada@example.com").expect("an email")),
            customer_email: Some(" Ada@Example.com ".into()),
            status: Some(OrderStatus::Completed),
            text: Some("50%".into()),
            before: Some((1_700_000_000_000, OrderId::new(Uuid::now_v7()))),
            limit: 10,
        };
        assert_eq!(
            list_views_query::<Postgres>(&filter).sql().as_str(),
            "SELECT view FROM order_views WHERE 1 = 1 AND customer_email = $1 \
             AND customer_email = $2 AND status = $3 AND search_text LIKE $4 ESCAPE '\\' \
             AND (created_at, order_id) < ($5, $6) \
             ORDER BY created_at DESC, order_id DESC LIMIT $7"
        );
    }
}
