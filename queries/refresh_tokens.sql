-- name: CreateRefreshToken :exec
INSERT INTO refresh_tokens (session_id, token_hash, created_at)
VALUES (sqlc.arg(session_id), sqlc.arg(token_hash), sqlc.arg(now));

-- name: LockRefreshToken :one
-- Locks the token and its session, so refreshes of one session run one at a time
-- and each sees the outcome of the one before it.
SELECT refresh_tokens.id,
       refresh_tokens.session_id,
       refresh_tokens.rotated_at,
       refresh_tokens.successor_id,
       refresh_tokens.successor_sealed,
       sessions.user_id,
       sessions.expires_at,
       sessions.revoked_at,
       sessions.amr,
       sessions.auth_time,
       users.is_active,
       users.roles
FROM refresh_tokens
JOIN sessions ON sessions.id = refresh_tokens.session_id
JOIN users ON users.id = sessions.user_id
WHERE refresh_tokens.token_hash = $1
FOR UPDATE OF refresh_tokens, sessions;

-- name: RotateRefreshToken :exec
-- Adds the successor token, marks the presented one as rotated, records the
-- session's use and clears the sealed copy of the presented token that its
-- predecessor held (its retry no longer applies), in one statement.
WITH successor AS (
    INSERT INTO refresh_tokens (session_id, token_hash, created_at)
    VALUES (sqlc.arg(session_id), sqlc.arg(successor_hash), sqlc.arg(now))
    RETURNING id
), used AS (
    UPDATE sessions SET last_used_at = sqlc.arg(now) WHERE id = sqlc.arg(session_id)
), spent AS (
    UPDATE refresh_tokens SET successor_sealed = NULL
    WHERE session_id = sqlc.arg(session_id) AND successor_sealed IS NOT NULL
      AND refresh_tokens.id <> sqlc.arg(id)
)
UPDATE refresh_tokens
SET rotated_at       = sqlc.arg(now)::timestamptz,
    successor_id     = (SELECT id FROM successor),
    successor_sealed = sqlc.arg(successor_sealed)
WHERE refresh_tokens.id = sqlc.arg(id);

-- name: RefreshTokenRotatedAt :one
-- Whether a token has been rotated; read after the session lock is held.
SELECT rotated_at FROM refresh_tokens WHERE id = $1;

-- name: ClearSealedSuccessors :exec
-- Clears sealed successors whose retry window has passed.
UPDATE refresh_tokens SET successor_sealed = NULL
WHERE successor_sealed IS NOT NULL AND rotated_at < sqlc.arg(rotated_before)::timestamptz;
