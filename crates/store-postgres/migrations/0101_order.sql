-- The order service: event store, saga deadlines, catalog, idempotency keys.

CREATE TABLE events (
    position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id TEXT COLLATE "C" NOT NULL,
    stream_version BIGINT NOT NULL CHECK (stream_version >= 1),
    message_id TEXT COLLATE "C" NOT NULL UNIQUE,
    envelope TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    -- Turns a concurrent append at the same version into a unique violation (a Conflict).
    UNIQUE (stream_id, stream_version)
);

CREATE TABLE deadlines (
    order_id TEXT COLLATE "C" PRIMARY KEY,
    step TEXT NOT NULL,
    due_at BIGINT NOT NULL
);
CREATE INDEX deadlines_due ON deadlines (due_at);

CREATE TABLE products (
    sku TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    price_minor BIGINT NOT NULL CHECK (price_minor >= 0),
    currency TEXT NOT NULL
);

CREATE TABLE idempotency_keys (
    key TEXT COLLATE "C" PRIMARY KEY,
    request_hash TEXT NOT NULL,
    order_id TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);
