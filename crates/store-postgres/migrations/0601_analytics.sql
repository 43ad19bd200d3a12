-- The analytics service: the events of the stream it has kept (with the archive file that
-- holds each, once claimed), the archive's files, the counters per minute and per hour, and
-- each order's two moments.

CREATE TABLE analytics_events (
    message_id TEXT COLLATE "C" PRIMARY KEY,
    message_type TEXT COLLATE "C" NOT NULL,
    order_id TEXT COLLATE "C" NOT NULL,
    occurred_at BIGINT NOT NULL,
    envelope TEXT NOT NULL,
    kept_at BIGINT NOT NULL,
    archive_file TEXT COLLATE "C"
);
CREATE INDEX analytics_events_unarchived ON analytics_events (occurred_at, message_id) WHERE archive_file IS NULL;
CREATE INDEX analytics_events_file ON analytics_events (archive_file);

-- A file is claimed (its events assigned to it) before it is written, and marked written
-- after: a claimed file not yet written is written again, whole, under the same name.
CREATE TABLE archive_files (
    name TEXT COLLATE "C" PRIMARY KEY,
    hour_start_ms BIGINT NOT NULL,
    events BIGINT NOT NULL,
    written_at BIGINT
);

CREATE TABLE analytics_counters (
    bucket TEXT COLLATE "C" NOT NULL,
    start_ms BIGINT NOT NULL,
    metric TEXT COLLATE "C" NOT NULL,
    dimension TEXT COLLATE "C" NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (bucket, start_ms, metric, dimension)
);

CREATE TABLE analytics_orders (
    order_id TEXT COLLATE "C" PRIMARY KEY,
    placed_at_ms BIGINT,
    completed_at_ms BIGINT
);
CREATE INDEX analytics_orders_completed ON analytics_orders (completed_at_ms);
