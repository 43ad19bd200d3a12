-- The query service: the order events it has seen, and the views folded from them.

CREATE TABLE view_events (
    message_id TEXT COLLATE "C" PRIMARY KEY,
    order_id TEXT COLLATE "C" NOT NULL,
    envelope TEXT NOT NULL
);
CREATE INDEX view_events_order ON view_events (order_id);

CREATE TABLE order_views (
    order_id TEXT COLLATE "C" PRIMARY KEY,
    customer_email TEXT COLLATE "C" NOT NULL,
    status TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    search_text TEXT COLLATE "C" NOT NULL,
    view TEXT NOT NULL
);
CREATE INDEX order_views_newest ON order_views (created_at DESC, order_id DESC);
CREATE INDEX order_views_customer ON order_views (customer_email, created_at DESC);
