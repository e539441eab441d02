-- +goose Up
-- How each session was authenticated (RFC 8176 methods) and when last: the
-- access tokens of the session carry both, refreshes keep them, and a
-- step-up renews them. Sessions from before know only a password, at login.
ALTER TABLE sessions ADD COLUMN amr text[] NOT NULL DEFAULT '{pwd}';
ALTER TABLE sessions ADD COLUMN auth_time timestamptz;
UPDATE sessions SET auth_time = created_at;
ALTER TABLE sessions ALTER COLUMN auth_time SET NOT NULL;

-- A second factor of a user. The TOTP secret is sealed with the data key
-- secret_kid (AUTHD_DATA_KEYS_FILE), bound to the row's id. last_step is the
-- last accepted TOTP time step: a code of that step or an earlier one is a
-- replay. An unverified factor does nothing and is pruned at expires_at;
-- only the session that started it (session_id; none for an enrolment at
-- login) can verify it, and failures wrong first codes end it.
CREATE TABLE mfa_factors (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind          text        NOT NULL CHECK (kind IN ('totp')),
    friendly_name text        NOT NULL,
    secret_kid    text        NOT NULL,
    secret_sealed bytea       NOT NULL,
    verified_at   timestamptz,
    expires_at    timestamptz,
    last_step     bigint      NOT NULL DEFAULT 0,
    last_used_at  timestamptz,
    session_id    uuid        REFERENCES sessions (id) ON DELETE CASCADE,
    failures      integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    CHECK ((verified_at IS NULL) <> (expires_at IS NULL))
);

CREATE INDEX mfa_factors_user_id_idx ON mfa_factors (user_id);
CREATE INDEX mfa_factors_secret_kid_idx ON mfa_factors (secret_kid);
CREATE INDEX mfa_factors_expires_at_idx ON mfa_factors (expires_at) WHERE expires_at IS NOT NULL;

-- Recovery codes: only the SHA-256 of each (80 random bits, so the hash
-- cannot be reversed by search); each works once.
CREATE TABLE recovery_codes (
    id         bigserial   PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  bytea       NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL,
    UNIQUE (user_id, code_hash)
);

-- The second step of a login: the password was right. Only the token's
-- SHA-256 is stored; the challenge is single use, expires, and dies after a
-- few wrong codes. password_tag (SHA-256 of the password hash the login
-- verified) voids it when the password changes in between. factor_id is the
-- factor a required enrolment created through it.
CREATE TABLE mfa_challenges (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    token_hash   bytea       NOT NULL UNIQUE,
    user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_tag bytea       NOT NULL,
    enrollment   boolean     NOT NULL,
    factor_id    uuid        REFERENCES mfa_factors (id) ON DELETE SET NULL,
    failures     integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

CREATE INDEX mfa_challenges_user_id_idx ON mfa_challenges (user_id);
CREATE INDEX mfa_challenges_expires_at_idx ON mfa_challenges (expires_at);

-- +goose Down
DROP TABLE mfa_challenges;
DROP TABLE recovery_codes;
DROP TABLE mfa_factors;
ALTER TABLE sessions DROP COLUMN auth_time;
ALTER TABLE sessions DROP COLUMN amr;
