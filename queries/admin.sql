-- name: ListAdminUsers :many
-- A page of users in (created_at, id) order after the cursor, filtered.
SELECT * FROM users
WHERE (sqlc.narg(email_prefix)::text IS NULL OR starts_with(lower(email::text), lower(sqlc.narg(email_prefix)::text)))
  AND (sqlc.narg(active)::boolean IS NULL OR is_active = sqlc.narg(active)::boolean)
  AND (sqlc.narg(verified)::boolean IS NULL OR (email_verified_at IS NOT NULL) = sqlc.narg(verified)::boolean)
  AND (sqlc.narg(role)::text IS NULL OR sqlc.narg(role)::text = ANY (roles))
  AND (sqlc.narg(created_after)::timestamptz IS NULL OR created_at >= sqlc.narg(created_after)::timestamptz)
  AND (sqlc.narg(created_before)::timestamptz IS NULL OR created_at < sqlc.narg(created_before)::timestamptz)
  AND (sqlc.narg(after_created_at)::timestamptz IS NULL
       OR (created_at, id) > (sqlc.narg(after_created_at)::timestamptz, sqlc.narg(after_id)::uuid))
ORDER BY created_at, id
LIMIT sqlc.arg(max_rows);

-- name: LockActiveAdmins :many
-- The active admins, locked: a change that could leave none is decided
-- while no other such change runs.
SELECT id FROM users WHERE 'admin' = ANY (roles) AND is_active ORDER BY id FOR UPDATE;

-- name: SetUserRoles :one
UPDATE users SET roles = sqlc.arg(roles), updated_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: SetUserActive :one
UPDATE users SET is_active = sqlc.arg(active), updated_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: SetEmailVerified :one
-- Marks the address verified (keeping the first time) or not.
UPDATE users
SET email_verified_at = CASE WHEN sqlc.arg(verified)::boolean THEN coalesce(email_verified_at, sqlc.arg(now)::timestamptz) END,
    updated_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id)
RETURNING *;

-- name: CreateInvitedUser :one
-- An account created by an admin: no password until the invitation is used.
INSERT INTO users (email, password_hash, roles, created_at, updated_at)
VALUES (sqlc.arg(email), '', sqlc.arg(roles), sqlc.arg(now)::timestamptz, sqlc.arg(now)::timestamptz)
ON CONFLICT (email) DO NOTHING
RETURNING *;

-- name: CreateServiceCredential :one
INSERT INTO service_credentials (name, secret_hash, scopes, created_at, expires_at)
VALUES (sqlc.arg(name), sqlc.arg(secret_hash), sqlc.arg(scopes), sqlc.arg(now)::timestamptz, sqlc.narg(expires_at))
RETURNING *;

-- name: GetServiceCredential :one
SELECT * FROM service_credentials WHERE id = sqlc.arg(id);

-- name: TouchServiceCredential :exec
-- Records a use, at most once a minute per credential.
UPDATE service_credentials SET last_used_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id) AND (last_used_at IS NULL OR last_used_at < sqlc.arg(now)::timestamptz - interval '1 minute');

-- name: ListServiceCredentials :many
SELECT * FROM service_credentials ORDER BY created_at, id;

-- name: RevokeServiceCredential :one
UPDATE service_credentials SET revoked_at = sqlc.arg(now)::timestamptz
WHERE (name = sqlc.arg(name_or_id)::text OR id::text = sqlc.arg(name_or_id)::text) AND revoked_at IS NULL
RETURNING *;

-- name: ListAllSessions :many
-- Every session of the user, ended ones too, newest first (the export).
SELECT * FROM sessions WHERE user_id = sqlc.arg(user_id) ORDER BY created_at DESC, id;

-- name: ListAllEvents :many
-- Every kept event of the user, newest first (the export).
SELECT * FROM security_events WHERE user_id = sqlc.arg(user_id) ORDER BY id DESC;

-- name: DeleteMailToAddress :execrows
-- Erasure: outbox rows to the user's address that name no account (mail to
-- a registration of it); those queued for the account go with its row. The
-- exact address, never the folded mailbox: bob+x@ is not bob@.
DELETE FROM mail_outbox WHERE user_id IS NULL AND lower(recipient) = lower(sqlc.arg(recipient)::text);

-- name: DeletePendingRegistration :exec
DELETE FROM pending_registrations WHERE email = sqlc.arg(email);

-- name: ScrubActor :exec
-- Erasure: events and erasures that name the erased user as their actor
-- keep only that an erased admin acted (not from where, nor with what).
WITH e AS (UPDATE security_events SET actor = 'admin:erased', ip = '', user_agent = '' WHERE actor = sqlc.arg(actor) RETURNING 1)
UPDATE erasures SET actor = 'admin:erased' WHERE erasures.actor = sqlc.arg(actor);

-- name: DeleteUser :execrows
DELETE FROM users WHERE id = sqlc.arg(id);

-- name: RecordErasure :exec
INSERT INTO erasures (actor, erased_at) VALUES (sqlc.arg(actor), sqlc.arg(now)::timestamptz);

-- name: LockSessionsOfUser :exec
-- Erasure: holds the user's refresh tokens and sessions, in a refresh's
-- order, before the delete cascades to them, so a refresh or step-up of
-- the user (which records an event on the user row) waits instead of
-- deadlocking with it.
SELECT 1 FROM refresh_tokens
JOIN sessions ON sessions.id = refresh_tokens.session_id
WHERE sessions.user_id = sqlc.arg(user_id)
FOR UPDATE OF refresh_tokens, sessions;
