-- +goose Up
-- Failed logins per (email, client IP), for the progressive backoff. Keyed by
-- the address as typed, not by user, so unknown emails are slowed down
-- exactly like real ones and the backoff reveals nothing.
CREATE TABLE login_failures (
    email          citext      NOT NULL,
    ip             text        NOT NULL,
    failures       integer     NOT NULL,
    last_failed_at timestamptz NOT NULL,
    blocked_until  timestamptz NOT NULL,
    PRIMARY KEY (email, ip)
);

CREATE INDEX login_failures_last_failed_at_idx ON login_failures (last_failed_at);

-- +goose Down
DROP TABLE login_failures;
