-- The notification service, second version: before sending an email, a consumer claims it for
-- a while (a lease), so that replicas in several processes that got the same message at once
-- do not both send it. A claim whose email was recorded as sent is never given again; one whose
-- holder went away lapses at `expires_at` (unix milliseconds, the database's clock).

CREATE TABLE notification_claims (
    message_id TEXT COLLATE "C" PRIMARY KEY,
    holder TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    sent BOOLEAN NOT NULL
);
