-- +goose Up
-- Roles of a user: `admin`, or one of AUTHD_ROLES for relying services.
-- Access tokens carry them; authd's admin API reads them from this row.
ALTER TABLE users ADD COLUMN roles text[] NOT NULL DEFAULT '{}';
CREATE INDEX users_roles_idx ON users USING gin (roles);
-- The admin listing's order and cursor.
CREATE INDEX users_created_at_id_idx ON users (created_at, id);

-- Who made a change when it was not the user: 'admin:<user id>' or
-- 'service:<credential id>'; '' for the user themself.
ALTER TABLE security_events ADD COLUMN actor text NOT NULL DEFAULT '';
CREATE INDEX security_events_actor_idx ON security_events (actor) WHERE actor <> '';

-- A credential for automation on the admin API. Only the SHA-256 of its
-- secret is stored (256 random bits, so a fast hash suffices).
CREATE TABLE service_credentials (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text        NOT NULL CONSTRAINT service_credentials_name_key UNIQUE,
    secret_hash  bytea       NOT NULL,
    scopes       text[]      NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);

-- That an erasure happened, and by whom, without anything about the person
-- erased: actor as in security_events ('' when the user erased themself).
CREATE TABLE erasures (
    id        uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    actor     text        NOT NULL,
    erased_at timestamptz NOT NULL
);

-- The account a mail was queued for (none for a registration not yet
-- confirmed): its erasure takes the mail with it, whatever address the
-- account had then.
ALTER TABLE mail_outbox ADD COLUMN user_id uuid REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX mail_outbox_user_idx ON mail_outbox (user_id) WHERE user_id IS NOT NULL;
-- Mail already queued: to an account's address, or the confirmation of an
-- address change it asked for. (Mail to an address an account no longer
-- has cannot be told apart from a stranger's.)
UPDATE mail_outbox m SET user_id = u.id FROM users u WHERE lower(m.recipient) = lower(u.email);
UPDATE mail_outbox m SET user_id = t.user_id FROM account_tokens t
WHERE m.user_id IS NULL AND m.kind = 'email_change_confirm' AND t.new_email IS NOT NULL AND lower(m.recipient) = lower(t.new_email);

-- +goose Down
DROP INDEX mail_outbox_user_idx;
ALTER TABLE mail_outbox DROP COLUMN user_id;
DROP TABLE erasures;
DROP TABLE service_credentials;
DROP INDEX security_events_actor_idx;
ALTER TABLE security_events DROP COLUMN actor;
DROP INDEX users_created_at_id_idx;
DROP INDEX users_roles_idx;
ALTER TABLE users DROP COLUMN roles;
