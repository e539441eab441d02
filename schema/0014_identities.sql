-- +goose Up
-- An account created by a federated login has no password until it sets
-- one through a reset: its password_hash is '' (no hash verifies against
-- it). The methods a login challenge's first step proved: a password, or a
-- provider (fed); the second step adds its own.
ALTER TABLE mfa_challenges ADD COLUMN amr text[] NOT NULL DEFAULT '{pwd}';

-- An identity at an OpenID Connect provider that logs in to a user: the
-- provider's name (AUTHD_OIDC_PROVIDERS) and its subject, with the address
-- the provider last asserted and whether it said it verified it.
CREATE TABLE identities (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider       text        NOT NULL,
    subject        text        NOT NULL,
    email          text        NOT NULL DEFAULT '',
    email_verified boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    last_login_at  timestamptz,
    CONSTRAINT identities_provider_subject_key UNIQUE (provider, subject)
);

CREATE INDEX identities_user_id_idx ON identities (user_id);

-- A link started by a logged-in session (POST /users/me/identities/{p}):
-- its token (stored as SHA-256) is opened in the browser at the authorize
-- step, once, within minutes.
CREATE TABLE oidc_links (
    token_hash     bytea       PRIMARY KEY,
    provider       text        NOT NULL,
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    redirect_to    text        NOT NULL,
    app_challenge  text        NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);

CREATE INDEX oidc_links_expires_at_idx ON oidc_links (expires_at);

-- A federated login between authorize and callback. state_hash and
-- browser_hash are SHA-256 of the state and of the browser's cookie; the
-- nonce is kept as its SHA-256 too. pkce_verifier is authd's own verifier
-- for the provider's code; app_challenge the application's S256 challenge
-- for authd's one-time code. A link carries its user and session.
CREATE TABLE oidc_logins (
    state_hash      bytea       PRIMARY KEY,
    browser_hash    bytea       NOT NULL,
    provider        text        NOT NULL,
    nonce_hash      bytea       NOT NULL,
    pkce_verifier   text        NOT NULL,
    redirect_to     text        NOT NULL,
    app_challenge   text        NOT NULL,
    link_user_id    uuid        REFERENCES users (id) ON DELETE CASCADE,
    link_session_id uuid        REFERENCES sessions (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    CHECK ((link_user_id IS NULL) = (link_session_id IS NULL))
);

CREATE INDEX oidc_logins_expires_at_idx ON oidc_logins (expires_at);

-- The one-time code the callback hands the application (as SHA-256): a
-- login's user and the identity it logged in through (the code goes with
-- the identity when a reset or an unlink removes it), or a link's user,
-- session and the identity to link. It works once, with the verifier of
-- app_challenge, within a minute.
CREATE TABLE oidc_codes (
    code_hash      bytea       PRIMARY KEY,
    purpose        text        NOT NULL CHECK (purpose IN ('login', 'link')),
    user_id        uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id     uuid        REFERENCES sessions (id) ON DELETE CASCADE,
    identity_id    uuid        REFERENCES identities (id) ON DELETE CASCADE,
    app_challenge  text        NOT NULL,
    provider       text        NOT NULL,
    subject        text        NOT NULL,
    email          text        NOT NULL DEFAULT '',
    email_verified boolean     NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    CHECK ((purpose = 'link') = (session_id IS NOT NULL)),
    CHECK ((purpose = 'login') = (identity_id IS NOT NULL))
);

CREATE INDEX oidc_codes_expires_at_idx ON oidc_codes (expires_at);

-- +goose Down
DROP TABLE oidc_codes;
DROP TABLE oidc_logins;
DROP TABLE oidc_links;
DROP TABLE identities;
ALTER TABLE mfa_challenges DROP COLUMN amr;
