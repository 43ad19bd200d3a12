-- The notification service: every email sent.

CREATE TABLE notifications (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id TEXT COLLATE "C" NOT NULL UNIQUE,
    order_id TEXT COLLATE "C" NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
CREATE INDEX notifications_order ON notifications (order_id);
