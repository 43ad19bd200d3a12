-- Tables every service schema has: the inbox and the outbox. There is no queue table: when
-- scaled out, messages travel over RabbitMQ.
--
-- Ids are TEXT with the "C" collation so that they sort byte by byte, as in SQLite; times are
-- unix milliseconds from the database's clock.

CREATE TABLE inbox (
    message_id TEXT COLLATE "C" PRIMARY KEY,
    handled_at BIGINT NOT NULL
);

-- A relay claims the rows it reads (claimed_by, until claimed_until) so that several relay
-- replicas never hand out the same row at once; the claiming relay reads its rows again until
-- it publishes them, and an expired claim (a relay that died) frees them for the others.
CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id TEXT COLLATE "C" NOT NULL UNIQUE,
    envelope TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    claimed_by TEXT COLLATE "C",
    claimed_until BIGINT
);
