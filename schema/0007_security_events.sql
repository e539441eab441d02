-- +goose Up
-- The audit trail a user sees in GET /users/me/events: each row is written
-- in the transaction of the change it records, and never holds a secret.
CREATE TABLE security_events (
    id         bigserial   PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text        NOT NULL,
    session_id uuid,
    ip         text        NOT NULL DEFAULT '',
    user_agent text        NOT NULL DEFAULT '',
    request_id text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX security_events_user_id_idx ON security_events (user_id, id DESC);
CREATE INDEX security_events_created_at_idx ON security_events (created_at);

-- +goose Down
DROP TABLE security_events;
