-- +goose Up
-- A passkey (WebAuthn credential) of a user: a way to log in without a
-- password and a second factor. Only the public key is stored. sign_count
-- is the authenticator's signature counter: one that goes backwards means a
-- cloned authenticator. The user handle the authenticator keeps is the
-- user's id.
CREATE TABLE passkeys (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id          uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id    bytea       NOT NULL CONSTRAINT passkeys_credential_id_key UNIQUE,
    public_key       bytea       NOT NULL,
    attestation_type text        NOT NULL DEFAULT '',
    aaguid           bytea,
    sign_count       bigint      NOT NULL DEFAULT 0,
    transports       text[]      NOT NULL DEFAULT '{}',
    user_verified    boolean     NOT NULL DEFAULT false,
    backup_eligible  boolean     NOT NULL DEFAULT false,
    backup_state     boolean     NOT NULL DEFAULT false,
    friendly_name    text        NOT NULL,
    created_at       timestamptz NOT NULL,
    last_used_at     timestamptz
);

CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);

-- A WebAuthn ceremony in progress: its challenge (stored as SHA-256), what
-- it is for (ceremony), whose it is when known (user_id; none for a
-- passwordless login), the session that started it (registration,
-- step-up) or the login challenge it serves (mfa_challenge_id), and
-- go-webauthn's session data. Single use: it is deleted when answered.
CREATE TABLE webauthn_ceremonies (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    challenge_hash   bytea       NOT NULL CONSTRAINT webauthn_ceremonies_challenge_hash_key UNIQUE,
    ceremony         text        NOT NULL CHECK (ceremony IN ('register', 'login', 'mfa', 'step_up')),
    user_id          uuid        REFERENCES users (id) ON DELETE CASCADE,
    session_id       uuid        REFERENCES sessions (id) ON DELETE CASCADE,
    mfa_challenge_id uuid        REFERENCES mfa_challenges (id) ON DELETE CASCADE,
    session_data     jsonb       NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL
);

CREATE INDEX webauthn_ceremonies_expires_at_idx ON webauthn_ceremonies (expires_at);

-- +goose Down
DROP TABLE webauthn_ceremonies;
DROP TABLE passkeys;
