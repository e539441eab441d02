-- name: CreateMfaChallenge :exec
INSERT INTO mfa_challenges (token_hash, user_id, password_tag, enrollment, amr, created_at, expires_at)
VALUES (sqlc.arg(token_hash), sqlc.arg(user_id), sqlc.arg(password_tag), sqlc.arg(enrollment), sqlc.arg(amr), sqlc.arg(now)::timestamptz, sqlc.arg(expires_at));

-- name: LockMfaChallenge :one
-- An unexpired challenge, locked so that its codes are checked one at a time.
SELECT * FROM mfa_challenges
WHERE token_hash = sqlc.arg(token_hash) AND expires_at > sqlc.arg(now)::timestamptz
FOR UPDATE;

-- name: FailMfaChallenge :one
-- Counts a wrong code against the challenge.
UPDATE mfa_challenges SET failures = failures + 1 WHERE id = sqlc.arg(id) RETURNING failures;

-- name: SetMfaChallengeFactor :exec
-- Records the factor a required enrolment created through the challenge.
UPDATE mfa_challenges SET factor_id = sqlc.arg(factor_id) WHERE id = sqlc.arg(id);

-- name: DeleteMfaChallenge :exec
DELETE FROM mfa_challenges WHERE id = sqlc.arg(id);

-- name: PruneMfaChallenges :execrows
DELETE FROM mfa_challenges WHERE expires_at < sqlc.arg(now)::timestamptz;

-- name: LockUserMfaChallenges :exec
-- Holds the user's challenges before the user row, in the order a login's
-- second step takes them (challenge, then user).
SELECT id FROM mfa_challenges WHERE user_id = sqlc.arg(user_id) FOR UPDATE;
