-- name: PutPendingRegistration :exec
-- The address's one pending registration: no password, only its newest
-- mailed link. A registration that mails a link (token_hash set) replaces
-- the row, so earlier links stop working; one that mails none (throttled,
-- or the address has an account) keeps a live row as it is.
INSERT INTO pending_registrations AS p (email, token_hash, created_at, expires_at)
VALUES (sqlc.arg(email), sqlc.narg(token_hash), sqlc.arg(now), sqlc.arg(expires_at))
ON CONFLICT (email) DO UPDATE
SET token_hash = excluded.token_hash, created_at = excluded.created_at, expires_at = excluded.expires_at
WHERE excluded.token_hash IS NOT NULL OR p.expires_at <= sqlc.arg(now);

-- name: RenewPendingLink :execrows
-- A new link for an address, replacing the one before: on its live pending
-- registration when renew, on a row of its own when create_row (an account
-- from before verification was required); otherwise nothing changes. One
-- statement for every address, so that a resend does the same work for all.
INSERT INTO pending_registrations AS p (email, token_hash, created_at, expires_at)
SELECT sqlc.arg(email)::text, sqlc.arg(token_hash)::bytea, sqlc.arg(now)::timestamptz, sqlc.arg(expires_at)::timestamptz
WHERE sqlc.arg(create_row)::boolean OR (sqlc.arg(renew)::boolean AND EXISTS (
    SELECT 1 FROM pending_registrations l WHERE l.email = sqlc.arg(email)::text AND l.expires_at > sqlc.arg(now)::timestamptz
))
ON CONFLICT (email) DO UPDATE
SET token_hash = excluded.token_hash, created_at = excluded.created_at, expires_at = excluded.expires_at;

-- name: HasLivePendingRegistration :one
-- Whether the address has a live pending registration (resend renews it).
SELECT EXISTS (
    SELECT 1 FROM pending_registrations
    WHERE email = sqlc.arg(email) AND expires_at > sqlc.arg(now)
) AS live;

-- name: PeekPendingToken :one
-- The address a live link belongs to, without using it up.
SELECT email FROM pending_registrations
WHERE token_hash = sqlc.arg(token_hash) AND expires_at > sqlc.arg(now);

-- name: ConsumePendingToken :one
-- Uses a live link up: its row goes, so the link works once.
DELETE FROM pending_registrations
WHERE token_hash = sqlc.arg(token_hash) AND expires_at > sqlc.arg(now)
RETURNING email;

-- name: PrunePendingRegistrations :exec
DELETE FROM pending_registrations WHERE expires_at < sqlc.arg(before);
