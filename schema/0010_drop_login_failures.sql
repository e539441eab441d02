-- +goose Up
-- The login backoff's counts moved to the limit store (memory with a fixed
-- number of counts, or Redis with a TTL per count): a row per (email, client)
-- written before the password was checked let unauthenticated requests grow
-- this table without bound.
DROP TABLE login_failures;

-- +goose Down
CREATE TABLE login_failures (
    email          citext      NOT NULL,
    ip             text        NOT NULL,
    failures       integer     NOT NULL,
    last_failed_at timestamptz NOT NULL,
    blocked_until  timestamptz NOT NULL,
    PRIMARY KEY (email, ip)
);

CREATE INDEX login_failures_last_failed_at_idx ON login_failures (last_failed_at);
