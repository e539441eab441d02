-- name: AddPendingRegistration :one
-- Records a registration unless a live one holds the address; an expired
-- one is replaced. Returns whether this call wrote the row.
INSERT INTO pending_registrations AS p (email, password_hash, token_hash, shadow, expires_at)
VALUES (sqlc.arg(email), sqlc.arg(password_hash), sqlc.narg(token_hash), sqlc.arg(shadow), sqlc.arg(expires_at))
ON CONFLICT (email) DO UPDATE
SET password_hash = excluded.password_hash, token_hash = excluded.token_hash, shadow = excluded.shadow,
    created_at = now(), expires_at = excluded.expires_at
WHERE p.expires_at <= sqlc.arg(now)
RETURNING true AS written;

-- name: GetPendingRegistration :one
SELECT password_hash, shadow FROM pending_registrations
WHERE email = sqlc.arg(email) AND expires_at > sqlc.arg(now);

-- name: RenewPendingToken :execrows
-- A new link for a live, real pending registration; the old link stops working.
UPDATE pending_registrations SET token_hash = sqlc.arg(token_hash)
WHERE email = sqlc.arg(email) AND NOT shadow AND expires_at > sqlc.arg(now);

-- name: ConsumePendingRegistration :one
DELETE FROM pending_registrations
WHERE token_hash = sqlc.arg(token_hash) AND NOT shadow AND expires_at > sqlc.arg(now)
RETURNING email, password_hash;

-- name: PrunePendingRegistrations :exec
DELETE FROM pending_registrations WHERE expires_at < sqlc.arg(before);
