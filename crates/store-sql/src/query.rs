//! The read model's columns: a view as JSON beside the columns the read API filters, searches
//! and pages on, and the list query over them. The list query is the same SQL in both dialects
//! (row-value comparison, `LIKE ... ESCAPE`); `QueryBuilder` writes each `sqlx` dialect's placeholders,
//! [`list_views_sql`] positional `?` ones for a driver outside `sqlx`.

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

/// A value the list query binds to one of its placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Integer(i64),
}

/// A piece of the list query: SQL text, or a placeholder with its value.
enum Piece {
    Sql(&'static str),
    Bind(Bind),
}

/// The list query for `filter` in pieces (see [`list_views_query`]).
fn list_views_pieces(filter: &OrderFilter) -> Vec<Piece> {
    let mut pieces = vec![Piece::Sql("SELECT view FROM order_views WHERE 1 = 1")];
    let mut condition = |sql: &'static str, value: Bind| {
        pieces.push(Piece::Sql(sql));
        pieces.push(Piece::Bind(value));
    };
    if let Some(owner) = &filter.owner {
        condition(
            " AND customer_email = ",
            Bind::Text(owner.as_str().to_owned()),
        );
    }
    if let Some(email) = &filter.customer_email {
        condition(
            " AND customer_email = ",
            Bind::Text(email.trim().to_lowercase()),
        );
    }
    if let Some(status) = &filter.status {
        condition(" AND status = ", Bind::Text(status.as_str().to_owned()));
    }
    if let Some(text) = &filter.text {
        let pattern = format!("%{}%", escape_like(&text.trim().to_lowercase()));
        condition(" AND search_text LIKE ", Bind::Text(pattern));
        pieces.push(Piece::Sql(" ESCAPE '\\'"));
    }
    if let Some((created_at_ms, order_id)) = filter.before {
        pieces.extend([
            Piece::Sql(" AND (created_at, order_id) < ("),
            Piece::Bind(Bind::Integer(created_at_ms)),
            Piece::Sql(", "),
            Piece::Bind(Bind::Text(order_id.to_string())),
            Piece::Sql(")"),
        ]);
    }
    pieces.extend([
        Piece::Sql(" ORDER BY created_at DESC, order_id DESC LIMIT "),
        Piece::Bind(Bind::Integer(to_limit(filter.limit))),
    ]);
    pieces
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
    let mut sql = QueryBuilder::<DB>::new("");
    for piece in list_views_pieces(filter) {
        match piece {
            Piece::Sql(text) => sql.push(text),
            Piece::Bind(Bind::Text(value)) => sql.push_bind(value),
            Piece::Bind(Bind::Integer(value)) => sql.push_bind(value),
        };
    }
    sql
}

/// [`list_views_query`] for a driver outside `sqlx`: the SQL with `?` placeholders, and their
/// values in order.
pub fn list_views_sql(filter: &OrderFilter) -> (String, Vec<Bind>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    for piece in list_views_pieces(filter) {
        match piece {
            Piece::Sql(text) => sql.push_str(text),
            Piece::Bind(value) => {
                sql.push('?');
                binds.push(value);
            }
        }
    }
    (sql, binds)
}

#[cfg(test)]
mod tests {
    use contracts::value::OrderId;
    use order_domain::OrderStatus;
    use query_domain::OrderViewItem;
    use sqlx::Postgres;
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
            list_views_sql(&filter),
            (
                "SELECT view FROM order_views WHERE 1 = 1 \
                 ORDER BY created_at DESC, order_id DESC LIMIT ?"
                    .to_owned(),
                vec![Bind::Integer(20)]
            )
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
