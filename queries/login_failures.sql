-- name: ClaimLoginSlot :one
-- Locks (creating if needed) the backoff row of this address and client for
-- the rest of the transaction, so concurrent attempts are decided one by one.
INSERT INTO login_failures AS f (email, ip, failures, last_failed_at, blocked_until)
VALUES (sqlc.arg(email), sqlc.arg(ip), 0, sqlc.arg(now), sqlc.arg(now))
ON CONFLICT (email, ip) DO UPDATE SET email = f.email
RETURNING failures, last_failed_at, blocked_until;

-- name: CountLoginAttempt :exec
-- Counts an attempt as a failure before its password is checked; a success
-- forgives it (ForgiveLoginFailures).
UPDATE login_failures
SET failures = sqlc.arg(failures), last_failed_at = sqlc.arg(now), blocked_until = sqlc.arg(blocked_until)
WHERE email = sqlc.arg(email) AND ip = sqlc.arg(ip);

-- name: ForgiveLoginFailures :exec
-- A successful login forgives this client's failures for the address, and
-- only this client's: an attacker elsewhere keeps its backoff.
DELETE FROM login_failures WHERE email = sqlc.arg(email) AND ip = sqlc.arg(ip);

-- name: PruneLoginFailures :exec
DELETE FROM login_failures WHERE last_failed_at < sqlc.arg(before) AND blocked_until < sqlc.arg(before);

-- name: IsKnownClient :one
-- Whether this client has a live session on the account of this address,
-- created recently. One query of the same cost whether or not the address
-- has an account, so its timing tells nothing.
SELECT EXISTS (
    SELECT 1 FROM sessions JOIN users ON users.id = sessions.user_id
    WHERE users.email = sqlc.arg(email) AND sessions.ip = sqlc.arg(ip)
      AND sessions.created_at > sqlc.arg(since) AND sessions.revoked_at IS NULL
) AS known;

-- name: TouchLoginFailure :exec
-- Marks the failure just counted; with the event a failed login on a real
-- account records, it makes both kinds of failure commit the same work.
UPDATE login_failures SET last_failed_at = sqlc.arg(now) WHERE email = sqlc.arg(email) AND ip = sqlc.arg(ip);
