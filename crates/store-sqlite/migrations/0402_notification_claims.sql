-- The notification service, second version: before sending an email, a consumer claims it for
-- a while (a lease), so that replicas in several processes that got the same message at once
-- do not both send it. A claim whose email was recorded as sent is never given again; one whose
-- holder went away lapses at `expires_at` (unix milliseconds).

CREATE TABLE notification_claims (
    message_id TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    sent INTEGER NOT NULL
);
