-- Tables every service database has: inbox, outbox, and its incoming queue with dead letters.

CREATE TABLE inbox (
    message_id TEXT PRIMARY KEY,
    handled_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    envelope TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE queue_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    envelope TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    deliveries INTEGER NOT NULL DEFAULT 0,
    visible_at INTEGER NOT NULL,
    leased_until INTEGER,
    last_error TEXT,
    enqueued_at INTEGER NOT NULL,
    UNIQUE (queue, message_id)
);
CREATE INDEX queue_messages_due ON queue_messages (queue, visible_at);

CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    queue TEXT NOT NULL,
    message_id TEXT NOT NULL,
    envelope TEXT NOT NULL,
    error TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    dead_lettered_at INTEGER NOT NULL
);
