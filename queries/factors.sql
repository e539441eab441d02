-- name: CreateFactor :one
-- An unverified factor; the caller chooses the id, which the sealed secret is bound to.
INSERT INTO mfa_factors (id, user_id, kind, friendly_name, secret_kid, secret_sealed, expires_at, session_id, created_at)
VALUES (sqlc.arg(id), sqlc.arg(user_id), sqlc.arg(kind), sqlc.arg(friendly_name), sqlc.arg(secret_kid), sqlc.arg(secret_sealed), sqlc.arg(expires_at), sqlc.narg(session_id), sqlc.arg(now)::timestamptz)
RETURNING *;

-- name: DeleteUnverifiedFactors :exec
-- Ends the user's enrolments that were never verified: a new one replaces them.
DELETE FROM mfa_factors WHERE user_id = sqlc.arg(user_id) AND verified_at IS NULL;

-- name: ListFactors :many
-- The user's active factors and unexpired enrolments, oldest first.
SELECT * FROM mfa_factors
WHERE user_id = sqlc.arg(user_id) AND (verified_at IS NOT NULL OR expires_at > sqlc.arg(now)::timestamptz)
ORDER BY created_at, id;

-- name: CountActiveFactors :one
SELECT count(*) FROM mfa_factors WHERE user_id = sqlc.arg(user_id) AND verified_at IS NOT NULL;

-- name: LockActiveFactors :many
-- The user's active factors, locked so that a code is checked and spent by
-- one request at a time.
SELECT * FROM mfa_factors
WHERE user_id = sqlc.arg(user_id) AND verified_at IS NOT NULL
ORDER BY created_at, id
FOR UPDATE;

-- name: LockPendingFactor :one
-- One unexpired enrolment of the user started by this session (none: at
-- login), locked while its first code is checked.
SELECT * FROM mfa_factors
WHERE id = sqlc.arg(id) AND user_id = sqlc.arg(user_id) AND verified_at IS NULL AND expires_at > sqlc.arg(now)::timestamptz
  AND session_id IS NOT DISTINCT FROM sqlc.narg(session_id)::uuid
FOR UPDATE;

-- name: FailPendingFactor :one
-- Counts a wrong first code against an enrolment.
UPDATE mfa_factors SET failures = failures + 1 WHERE id = sqlc.arg(id) RETURNING failures;

-- name: AcceptTotpStep :execrows
-- Spends a code: 0 rows when its step, or a later one, was already accepted.
UPDATE mfa_factors SET last_step = sqlc.arg(step), last_used_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id) AND verified_at IS NOT NULL AND last_step < sqlc.arg(step);

-- name: ActivateFactor :one
-- Makes an enrolment active with the step of its first accepted code.
UPDATE mfa_factors
SET verified_at = sqlc.arg(now)::timestamptz, expires_at = NULL, last_step = sqlc.arg(step), last_used_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id) AND verified_at IS NULL AND expires_at > sqlc.arg(now)::timestamptz
RETURNING *;

-- name: DeleteFactor :execrows
-- Removes one factor of the user; 0 rows for another user's or an unknown one.
DELETE FROM mfa_factors WHERE id = sqlc.arg(id) AND user_id = sqlc.arg(user_id);

-- name: PruneExpiredFactors :execrows
DELETE FROM mfa_factors WHERE verified_at IS NULL AND expires_at < sqlc.arg(now)::timestamptz;

-- name: CountFactorSecretsUnder :one
-- How many factor secrets are sealed with the data key kid.
SELECT count(*) FROM mfa_factors WHERE secret_kid = sqlc.arg(kid);

-- name: ListFactorSecretsNotUnder :many
-- A batch of factor secrets sealed with another data key than kid, to rewrap.
SELECT id, user_id, secret_kid, secret_sealed FROM mfa_factors
WHERE secret_kid <> sqlc.arg(kid)
ORDER BY id
LIMIT sqlc.arg(max_rows);

-- name: RewrapFactorSecret :execrows
-- Replaces a sealed secret, unless it changed since it was read.
UPDATE mfa_factors SET secret_kid = sqlc.arg(secret_kid), secret_sealed = sqlc.arg(secret_sealed)
WHERE id = sqlc.arg(id) AND secret_kid = sqlc.arg(old_kid);

-- name: ReplaceRecoveryCodes :exec
-- Voids the user's recovery codes and stores the hashes of a new set.
WITH voided AS (
    DELETE FROM recovery_codes WHERE user_id = sqlc.arg(user_id)
)
INSERT INTO recovery_codes (user_id, code_hash, created_at)
SELECT sqlc.arg(user_id), hash, sqlc.arg(now)::timestamptz FROM unnest(sqlc.arg(hashes)::bytea[]) AS hash;

-- name: DeleteRecoveryCodes :exec
DELETE FROM recovery_codes WHERE user_id = sqlc.arg(user_id);

-- name: UseRecoveryCode :execrows
-- Spends one recovery code: 0 rows when it is unknown or already used.
UPDATE recovery_codes SET used_at = sqlc.arg(now)::timestamptz
WHERE user_id = sqlc.arg(user_id) AND code_hash = sqlc.arg(code_hash) AND used_at IS NULL;

-- name: CountRecoveryCodes :one
-- The user's unused recovery codes.
SELECT count(*) FROM recovery_codes WHERE user_id = sqlc.arg(user_id) AND used_at IS NULL;

-- name: HasActiveFactor :one
-- Whether the user has a second factor: an active TOTP factor or a passkey.
SELECT EXISTS (
    SELECT 1 FROM mfa_factors WHERE mfa_factors.user_id = sqlc.arg(user_id)::uuid AND verified_at IS NOT NULL
    UNION ALL
    SELECT 1 FROM passkeys WHERE passkeys.user_id = sqlc.arg(user_id)::uuid
) AS has;

-- name: ResetUserFactors :one
-- Removes every second factor (TOTP factors and passkeys), recovery code
-- and login challenge of the user (an operator's answer to a user who lost
-- them all); returns how many factors were active.
WITH factors AS (
    DELETE FROM mfa_factors WHERE user_id = sqlc.arg(user_id)::uuid RETURNING verified_at
), keys AS (
    DELETE FROM passkeys WHERE user_id = sqlc.arg(user_id)::uuid RETURNING created_at AS verified_at
), codes AS (
    DELETE FROM recovery_codes WHERE user_id = sqlc.arg(user_id)::uuid
), challenges AS (
    DELETE FROM mfa_challenges WHERE user_id = sqlc.arg(user_id)::uuid
)
SELECT count(*) FROM (SELECT verified_at FROM factors UNION ALL SELECT verified_at FROM keys) AS gone WHERE verified_at IS NOT NULL;
