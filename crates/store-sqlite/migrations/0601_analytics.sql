-- The analytics service: the events of the stream it has kept (with the archive file that
-- holds each, once claimed), the archive's files, the counters per minute and per hour, and
-- each order's two moments.

CREATE TABLE analytics_events (
    message_id TEXT PRIMARY KEY,
    message_type TEXT NOT NULL,
    order_id TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    envelope TEXT NOT NULL,
    kept_at INTEGER NOT NULL,
    archive_file TEXT
) WITHOUT ROWID;
CREATE INDEX analytics_events_unarchived ON analytics_events (occurred_at, message_id) WHERE archive_file IS NULL;
CREATE INDEX analytics_events_file ON analytics_events (archive_file);

-- A file is claimed (its events assigned to it) before it is written, and marked written
-- after: a claimed file not yet written is written again, whole, under the same name.
CREATE TABLE archive_files (
    name TEXT PRIMARY KEY,
    hour_start_ms INTEGER NOT NULL,
    events INTEGER NOT NULL,
    written_at INTEGER
) WITHOUT ROWID;

CREATE TABLE analytics_counters (
    bucket TEXT NOT NULL,
    start_ms INTEGER NOT NULL,
    metric TEXT NOT NULL,
    dimension TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (bucket, start_ms, metric, dimension)
) WITHOUT ROWID;

CREATE TABLE analytics_orders (
    order_id TEXT PRIMARY KEY,
    placed_at_ms INTEGER,
    completed_at_ms INTEGER
) WITHOUT ROWID;
CREATE INDEX analytics_orders_completed ON analytics_orders (completed_at_ms);
