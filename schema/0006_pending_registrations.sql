-- +goose Up
-- Registrations waiting for their address to be verified, when verification
-- is required: the account exists only once the link is redeemed, so
-- registering and then logging in cannot tell whether an address already
-- had an account. A "shadow" row records a registration of an address that
-- has one: it answers logins the same way but can never become an account.
-- The first registration holds the row until it expires; later ones cannot
-- change the password the owner chose.
CREATE TABLE pending_registrations (
    email         citext      PRIMARY KEY,
    password_hash text        NOT NULL,
    token_hash    bytea       CONSTRAINT pending_registrations_token_hash_key UNIQUE,
    shadow        boolean     NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);

CREATE INDEX pending_registrations_expires_at_idx ON pending_registrations (expires_at);

-- +goose Down
DROP TABLE pending_registrations;
