-- The inventory service: stock levels and reservations. The CHECKs are the last line of
-- defence against oversell; the conditional updates are the first.

CREATE TABLE stock (
    sku TEXT PRIMARY KEY,
    available INTEGER NOT NULL CHECK (available >= 0),
    reserved INTEGER NOT NULL CHECK (reserved >= 0),
    sold INTEGER NOT NULL CHECK (sold >= 0),
    initial INTEGER NOT NULL CHECK (initial >= 0),
    restocked INTEGER NOT NULL,
    CHECK (available + reserved + sold = initial + restocked)
) WITHOUT ROWID;

CREATE TABLE reservations (
    order_id TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('held', 'released', 'committed')),
    lines TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
