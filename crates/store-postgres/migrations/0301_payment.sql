-- The payment service: one payment per order, ever.

CREATE TABLE payments (
    order_id TEXT COLLATE "C" PRIMARY KEY,
    payment_id TEXT COLLATE "C" NOT NULL UNIQUE,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'refunded')),
    failure_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
