-- +goose Up
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- Single-use tokens mailed to users: email verification, password reset,
-- email change. Only the SHA-256 of a token is stored.
CREATE TABLE account_tokens (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text        NOT NULL CHECK (kind IN ('verify_email', 'password_reset', 'email_change')),
    token_hash bytea       NOT NULL CONSTRAINT account_tokens_token_hash_key UNIQUE,
    new_email  citext,     -- email_change: the address being confirmed
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    -- One live token per kind: a newer one replaces it, even under concurrency.
    CONSTRAINT account_tokens_user_kind_key UNIQUE (user_id, kind)
);

-- +goose Down
DROP TABLE account_tokens;
ALTER TABLE users DROP COLUMN email_verified_at;
