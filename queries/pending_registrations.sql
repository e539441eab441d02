-- name: LockPendingAddress :exec
-- Serialises the registrations and redemptions of one address until the
-- transaction ends, so the cap on its rows holds under concurrent requests.
SELECT pg_advisory_xact_lock(hashtextextended('pending_registrations:' || lower(sqlc.arg(email)::text), 0));

-- name: ClearPendingTokens :exec
-- A new link for an address is its only live one: earlier links stop working.
UPDATE pending_registrations SET token_hash = NULL
WHERE email = sqlc.arg(email) AND token_hash IS NOT NULL;

-- name: AddPendingRegistration :exec
INSERT INTO pending_registrations (email, password_hash, token_hash, shadow, expires_at)
VALUES (sqlc.arg(email), sqlc.arg(password_hash), sqlc.narg(token_hash), sqlc.arg(shadow), sqlc.arg(expires_at));

-- name: TrimPendingRegistrations :exec
-- Keeps the newest live registrations of an address; older and expired ones
-- go, with their links.
DELETE FROM pending_registrations p
WHERE p.email = sqlc.arg(email) AND p.id NOT IN (
    SELECT k.id FROM pending_registrations k
    WHERE k.email = sqlc.arg(email) AND k.expires_at > sqlc.arg(now)
    ORDER BY k.id DESC LIMIT sqlc.arg(keep)::int
);

-- name: ListPendingRegistrations :many
-- The live registrations of an address, newest first, shadows included.
SELECT id, email, password_hash, shadow FROM pending_registrations
WHERE email = sqlc.arg(email) AND expires_at > sqlc.arg(now)
ORDER BY id DESC LIMIT sqlc.arg(keep)::int;

-- name: HasPendingRegistration :one
-- Whether a live registration of the address (not a shadow) can be verified.
SELECT EXISTS (
    SELECT 1 FROM pending_registrations
    WHERE email = sqlc.arg(email) AND NOT shadow AND expires_at > sqlc.arg(now)
);

-- name: RenewPendingToken :execrows
-- A new link for an address with a live, real pending registration: it goes
-- on the newest one and every earlier link stops working.
UPDATE pending_registrations p
SET token_hash = CASE WHEN p.id = newest.id THEN sqlc.arg(token_hash)::bytea END
FROM (
    SELECT n.id FROM pending_registrations n
    WHERE n.email = sqlc.arg(email) AND NOT n.shadow AND n.expires_at > sqlc.arg(now)
    ORDER BY n.id DESC LIMIT 1
) newest
WHERE p.email = sqlc.arg(email);

-- name: PeekPendingToken :one
-- The address a live link belongs to, without using it up.
SELECT email FROM pending_registrations
WHERE token_hash = sqlc.arg(token_hash) AND NOT shadow AND expires_at > sqlc.arg(now);

-- name: EndPendingRegistrations :many
-- Redeeming a link ends every registration of its address; the caller
-- checks that the link and the chosen registration were among them.
DELETE FROM pending_registrations WHERE email = sqlc.arg(email)
RETURNING id, email, password_hash, token_hash, shadow, expires_at;

-- name: PrunePendingRegistrations :exec
DELETE FROM pending_registrations WHERE expires_at < sqlc.arg(before);
