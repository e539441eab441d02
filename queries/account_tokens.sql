-- name: ReplaceAccountToken :exec
-- Issues a token of a kind; the earlier one of that kind, if any, is
-- overwritten and so stops working.
INSERT INTO account_tokens (user_id, kind, token_hash, new_email, session_id, created_at, expires_at)
VALUES (sqlc.arg(user_id), sqlc.arg(kind), sqlc.arg(token_hash), sqlc.narg(new_email), sqlc.narg(session_id), sqlc.arg(now), sqlc.arg(expires_at))
ON CONFLICT (user_id, kind) DO UPDATE
SET token_hash = excluded.token_hash, new_email = excluded.new_email, session_id = excluded.session_id,
    created_at = excluded.created_at, expires_at = excluded.expires_at;

-- name: ConsumeAccountToken :one
-- Uses a live token up: it is deleted, so it works once.
DELETE FROM account_tokens
WHERE token_hash = sqlc.arg(token_hash) AND kind = sqlc.arg(kind) AND expires_at > sqlc.arg(now)
RETURNING user_id, new_email, session_id;

-- name: ConsumeOwnAccountToken :one
-- Uses a live token of the given user up. A token of another user is left
-- alone (no row), so the user it belongs to can still use it.
DELETE FROM account_tokens
WHERE token_hash = sqlc.arg(token_hash) AND kind = sqlc.arg(kind) AND user_id = sqlc.arg(user_id) AND expires_at > sqlc.arg(now)
RETURNING user_id, new_email, session_id;

-- name: DeleteAccountTokens :exec
-- A password or email change invalidates every outstanding token of the user.
DELETE FROM account_tokens WHERE user_id = $1;

-- name: MarkEmailVerified :one
UPDATE users SET updated_at = sqlc.arg(now), email_verified_at = coalesce(email_verified_at, sqlc.arg(now))
WHERE id = sqlc.arg(id) AND is_active
RETURNING *;

-- name: SetVerifiedEmail :one
-- Applies a confirmed email change; the address is verified by the confirmation.
UPDATE users SET email = sqlc.arg(email), updated_at = sqlc.arg(now), email_verified_at = sqlc.arg(now)
WHERE id = sqlc.arg(id) AND is_active
RETURNING *;



-- name: PeekAccountToken :one
-- Whose live token this is, without using it up.
SELECT user_id FROM account_tokens
WHERE token_hash = sqlc.arg(token_hash) AND kind = sqlc.arg(kind) AND expires_at > sqlc.arg(now);

-- name: PruneAccountTokens :exec
DELETE FROM account_tokens WHERE expires_at < sqlc.arg(before);
