-- name: LoginBlockedUntil :one
-- When the next login attempt for this address from this client may be made.
SELECT blocked_until FROM login_failures WHERE email = $1 AND ip = $2;

-- name: RecordLoginFailure :one
-- Counts a failure; a count whose last failure is older than window starts over.
INSERT INTO login_failures AS f (email, ip, failures, last_failed_at, blocked_until)
VALUES (sqlc.arg(email), sqlc.arg(ip), 1, sqlc.arg(now), sqlc.arg(now))
ON CONFLICT (email, ip) DO UPDATE
SET failures       = CASE WHEN f.last_failed_at < sqlc.arg(window_start) THEN 1 ELSE f.failures + 1 END,
    last_failed_at = sqlc.arg(now)
RETURNING failures;

-- name: BlockLogin :exec
UPDATE login_failures SET blocked_until = sqlc.arg(blocked_until)
WHERE email = sqlc.arg(email) AND ip = sqlc.arg(ip);

-- name: ClearLoginFailures :exec
-- A successful login forgives every client's failures for the address.
DELETE FROM login_failures WHERE email = $1;

-- name: PruneLoginFailures :exec
DELETE FROM login_failures WHERE last_failed_at < sqlc.arg(before) AND blocked_until < sqlc.arg(before);

-- name: HasRecentSessionFromIP :one
-- Whether this client has logged in to the account recently: such a client
-- is not held to the account-wide failure budget that strangers can exhaust.
SELECT EXISTS (
    SELECT 1 FROM sessions
    WHERE user_id = sqlc.arg(user_id) AND ip = sqlc.arg(ip) AND created_at > sqlc.arg(since)
) AS known;
