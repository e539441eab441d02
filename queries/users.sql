-- name: CreateUser :one
INSERT INTO users (email, password_hash, created_at, updated_at)
VALUES (sqlc.arg(email), sqlc.arg(password_hash), sqlc.arg(now), sqlc.arg(now))
RETURNING *;

-- name: GetUserByEmail :one
SELECT * FROM users WHERE email = $1;

-- name: GetUserByID :one
SELECT * FROM users WHERE id = $1;

-- name: ChangePassword :one
-- A new password chosen by the user (a change or a reset).
UPDATE users SET password_hash = sqlc.arg(password_hash), updated_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND is_active
RETURNING *;

-- name: SetPasswordHash :exec
-- Replaces a hash with one of the configured algorithm; not a user-visible change.
UPDATE users SET password_hash = sqlc.arg(password_hash) WHERE id = sqlc.arg(id);

-- name: DeactivateUser :exec
UPDATE users SET is_active = false, updated_at = sqlc.arg(now) WHERE id = sqlc.arg(id);

-- name: LockUserCredentials :one
-- Re-reads the credentials inside a transaction, holding the row, so a login
-- or a change checked against an older hash cannot complete after it changed.
SELECT password_hash, is_active FROM users WHERE id = $1 FOR NO KEY UPDATE;

-- name: CreateUserIfNew :one
-- Like CreateUser, but an existing email yields no row instead of an error,
-- so the transaction can go on (and mail the owner a notice).
INSERT INTO users (email, password_hash, created_at, updated_at)
VALUES (sqlc.arg(email), sqlc.arg(password_hash), sqlc.arg(now), sqlc.arg(now))
ON CONFLICT (email) DO NOTHING
RETURNING *;

-- name: CreateVerifiedUser :one
-- The account of a redeemed pending registration; no row if the address was
-- taken meanwhile.
INSERT INTO users (email, password_hash, created_at, updated_at, email_verified_at)
VALUES (sqlc.arg(email), sqlc.arg(password_hash), sqlc.arg(now), sqlc.arg(now), sqlc.arg(now))
ON CONFLICT (email) DO NOTHING
RETURNING *;

-- name: CreateFederatedUser :one
-- The account of a first federated login: no password (''), the address
-- verified only when the provider said it verified it. No row if the
-- address was taken meanwhile.
INSERT INTO users (email, password_hash, created_at, updated_at, email_verified_at)
VALUES (sqlc.arg(email), '', sqlc.arg(now)::timestamptz, sqlc.arg(now)::timestamptz, sqlc.narg(email_verified_at))
ON CONFLICT (email) DO NOTHING
RETURNING *;
