-- The query service: the order events it has seen, and the views folded from them.

CREATE TABLE view_events (
    message_id TEXT PRIMARY KEY,
    order_id TEXT NOT NULL,
    envelope TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX view_events_order ON view_events (order_id);

CREATE TABLE order_views (
    order_id TEXT PRIMARY KEY,
    customer_email TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    search_text TEXT NOT NULL,
    view TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX order_views_newest ON order_views (created_at DESC, order_id DESC);
CREATE INDEX order_views_customer ON order_views (customer_email, created_at DESC);
