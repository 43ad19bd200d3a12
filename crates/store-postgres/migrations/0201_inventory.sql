-- The inventory service: stock levels and reservations. The CHECKs are the last line of
-- defence against oversell; the conditional updates are the first.

CREATE TABLE stock (
    sku TEXT COLLATE "C" PRIMARY KEY,
    available BIGINT NOT NULL CHECK (available >= 0),
    reserved BIGINT NOT NULL CHECK (reserved >= 0),
    sold BIGINT NOT NULL CHECK (sold >= 0),
    initial BIGINT NOT NULL CHECK (initial >= 0),
    restocked BIGINT NOT NULL,
    CHECK (available + reserved + sold = initial + restocked)
);

CREATE TABLE reservations (
    order_id TEXT COLLATE "C" PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('held', 'released', 'committed')),
    lines TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
