-- The order service, second version: idempotency keys belong to one client (a scope: a
-- customer, the admin, or anonymous callers for one address) and expire by `created_at`; the
-- customer's payment token is kept apart from the order's events until its charge.
--
-- Keys stored before had no scope; they keep the empty one, which no request is in, until
-- they expire.

ALTER TABLE idempotency_keys ADD COLUMN scope TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE idempotency_keys ALTER COLUMN scope DROP DEFAULT;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (scope, key);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

CREATE TABLE payment_tokens (
    order_id TEXT COLLATE "C" PRIMARY KEY,
    token TEXT NOT NULL,
    kept_at BIGINT NOT NULL
);
