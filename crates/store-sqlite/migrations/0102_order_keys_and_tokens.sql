-- The order service, second version: idempotency keys belong to one client (a scope: a
-- customer, the admin, or anonymous callers for one address) and expire by `created_at`; the
-- customer's payment token is kept apart from the order's events until its charge.
--
-- SQLite cannot change a primary key in place: the keys move to a new table. Keys stored
-- before had no scope; they keep the empty one, which no request is in, until they expire.

CREATE TABLE idempotency_keys_scoped (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    order_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (scope, key)
) WITHOUT ROWID;
INSERT INTO idempotency_keys_scoped (scope, key, request_hash, order_id, created_at)
    SELECT '', key, request_hash, order_id, created_at FROM idempotency_keys;
DROP TABLE idempotency_keys;
ALTER TABLE idempotency_keys_scoped RENAME TO idempotency_keys;
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE payment_tokens (
    order_id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    kept_at INTEGER NOT NULL
) WITHOUT ROWID;
