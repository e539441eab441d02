-- +goose Up
-- A session is one login: it ends when revoked or at its absolute expiry.
CREATE TABLE sessions (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    user_agent   text        NOT NULL DEFAULT '',
    ip           text        NOT NULL DEFAULT ''
);

CREATE INDEX sessions_user_id_active_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- Each refresh of a session adds a token; only the SHA-256 of a token is stored.
-- successor_sealed is the successor token encrypted with a key derived from this
-- token, so a retry within the grace interval can return the same successor
-- without the database ever holding a usable token.
CREATE TABLE refresh_tokens (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id       uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    token_hash       bytea       NOT NULL CONSTRAINT refresh_tokens_token_hash_key UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    rotated_at       timestamptz,
    successor_id     uuid        REFERENCES refresh_tokens (id) ON DELETE SET NULL,
    successor_sealed bytea
);

CREATE INDEX refresh_tokens_session_id_idx ON refresh_tokens (session_id);

-- +goose Down
DROP TABLE refresh_tokens;
DROP TABLE sessions;
