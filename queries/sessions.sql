-- name: CreateSession :one
INSERT INTO sessions (user_id, created_at, last_used_at, expires_at, user_agent, ip, amr, auth_time)
VALUES (sqlc.arg(user_id), sqlc.arg(now), sqlc.arg(now), sqlc.arg(expires_at), sqlc.arg(user_agent), sqlc.arg(ip), sqlc.arg(amr), sqlc.arg(now))
RETURNING *;

-- name: GetSessionUser :one
-- The user behind an access token, when its session is still live.
SELECT sqlc.embed(users)
FROM sessions
JOIN users ON users.id = sessions.user_id
WHERE sessions.id = sqlc.arg(session_id)
  AND sessions.user_id = sqlc.arg(user_id)
  AND sessions.revoked_at IS NULL
  AND sessions.expires_at > sqlc.arg(now)
  AND users.is_active;

-- name: IsKnownClient :one
-- Whether this client has a live session on the account of this address,
-- created recently. One query of the same cost whether or not the address
-- has an account, so its timing tells nothing.
SELECT EXISTS (
    SELECT 1 FROM sessions JOIN users ON users.id = sessions.user_id
    WHERE users.email = sqlc.arg(email) AND sessions.ip = sqlc.arg(ip)
      AND sessions.created_at > sqlc.arg(since) AND sessions.revoked_at IS NULL
) AS known;

-- name: RevokeSessionsOverCap :many
-- Ends the user's oldest live sessions so that at most keep stay live. Run
-- while holding the user row (LockUserCredentials), so that concurrent
-- logins are counted one by one.
UPDATE sessions SET revoked_at = sqlc.arg(now)::timestamptz
WHERE id IN (
    SELECT live.id FROM sessions AS live
    WHERE live.user_id = sqlc.arg(user_id) AND live.revoked_at IS NULL AND live.expires_at > sqlc.arg(now)
    ORDER BY live.created_at DESC, live.id DESC
    OFFSET sqlc.arg(keep)
)
RETURNING id;

-- name: RevokeSession :execrows
UPDATE sessions SET revoked_at = sqlc.arg(now)::timestamptz WHERE id = sqlc.arg(id) AND revoked_at IS NULL;

-- name: RevokeUserSessions :execrows
-- Revokes every live session of a user, except the one named by keep when given.
UPDATE sessions
SET revoked_at = sqlc.arg(now)::timestamptz
WHERE user_id = sqlc.arg(user_id)
  AND revoked_at IS NULL
  AND (sqlc.narg(keep)::uuid IS NULL OR id <> sqlc.narg(keep)::uuid);

-- name: LockLiveSession :one
-- Holds a live session so it cannot be revoked while a change made through it commits.
SELECT id FROM sessions
WHERE id = sqlc.arg(id) AND revoked_at IS NULL AND expires_at > sqlc.arg(now)
FOR SHARE;

-- name: ListLiveSessions :many
-- The user's live sessions, most recently used first, at most 100.
SELECT id, created_at, last_used_at, user_agent, ip
FROM sessions
WHERE user_id = sqlc.arg(user_id) AND revoked_at IS NULL AND expires_at > sqlc.arg(now)
ORDER BY last_used_at DESC
LIMIT 100;

-- name: RevokeUserSession :execrows
-- Revokes one live session of the user; 0 rows for another user's or an unknown one.
UPDATE sessions SET revoked_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id) AND user_id = sqlc.arg(user_id) AND revoked_at IS NULL AND expires_at > sqlc.arg(now);

-- name: PruneEndedSessions :execrows
-- Deletes a batch of sessions that ended (revoked or expired) before the
-- given time, with their refresh tokens (ON DELETE CASCADE).
DELETE FROM sessions
WHERE id IN (
    SELECT ended.id FROM sessions AS ended
    WHERE LEAST(ended.expires_at, ended.revoked_at) < sqlc.arg(ended_before)
    LIMIT sqlc.arg(batch)
);

-- name: LockSessionForStepUp :one
-- Holds the caller's live session while a step-up raises it; refreshes of
-- the session wait (they lock it too).
SELECT id, amr, expires_at FROM sessions
WHERE id = sqlc.arg(id) AND revoked_at IS NULL AND expires_at > sqlc.arg(now)
FOR UPDATE;

-- name: StepUpSession :exec
-- Raises a session: its methods and authentication time, and a new refresh
-- token that replaces the current one (which is used up, so presenting it
-- later is reuse).
WITH successor AS (
    INSERT INTO refresh_tokens (session_id, token_hash, created_at)
    VALUES (sqlc.arg(session_id), sqlc.arg(token_hash), sqlc.arg(now))
    RETURNING id
), raised AS (
    UPDATE sessions SET amr = sqlc.arg(amr), auth_time = sqlc.arg(now), last_used_at = sqlc.arg(now)
    WHERE id = sqlc.arg(session_id)
)
UPDATE refresh_tokens
SET rotated_at = sqlc.arg(now)::timestamptz, successor_id = (SELECT id FROM successor), successor_sealed = NULL
WHERE refresh_tokens.session_id = sqlc.arg(session_id) AND refresh_tokens.rotated_at IS NULL;

-- name: LockSessionRefreshTokens :exec
-- Holds the session's current refresh token before a step-up holds the
-- session, in the order a refresh takes them (token, then session), so the
-- two wait for each other instead of deadlocking.
SELECT id FROM refresh_tokens
WHERE session_id = sqlc.arg(session_id) AND rotated_at IS NULL
FOR UPDATE;
