-- The order service: event store, saga deadlines, catalog, idempotency keys.

CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL,
    stream_version INTEGER NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    envelope TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    UNIQUE (stream_id, stream_version)
);

CREATE TABLE deadlines (
    order_id TEXT PRIMARY KEY,
    step TEXT NOT NULL,
    due_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX deadlines_due ON deadlines (due_at);

CREATE TABLE products (
    sku TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    price_minor INTEGER NOT NULL CHECK (price_minor >= 0),
    currency TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    order_id TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
