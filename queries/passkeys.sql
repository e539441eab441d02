-- name: CreatePasskey :one
INSERT INTO passkeys (user_id, credential_id, public_key, attestation_type, aaguid, sign_count, transports,
                      user_verified, backup_eligible, backup_state, friendly_name, created_at)
VALUES (sqlc.arg(user_id), sqlc.arg(credential_id), sqlc.arg(public_key), sqlc.arg(attestation_type), sqlc.narg(aaguid),
        sqlc.arg(sign_count), sqlc.arg(transports), sqlc.arg(user_verified), sqlc.arg(backup_eligible), sqlc.arg(backup_state),
        sqlc.arg(friendly_name), sqlc.arg(now)::timestamptz)
RETURNING *;

-- name: ListPasskeys :many
-- The user's passkeys, oldest first.
SELECT * FROM passkeys WHERE user_id = sqlc.arg(user_id) ORDER BY created_at, id;

-- name: LockPasskeys :many
-- The user's passkeys, locked while an assertion is checked and its counter
-- moved, so concurrent uses are checked one at a time.
SELECT * FROM passkeys WHERE user_id = sqlc.arg(user_id) ORDER BY created_at, id FOR UPDATE;

-- name: CountPasskeys :one
SELECT count(*) FROM passkeys WHERE user_id = sqlc.arg(user_id);

-- name: GetPasskeyOwner :one
-- The user a credential belongs to, for a discoverable login.
SELECT user_id FROM passkeys WHERE credential_id = sqlc.arg(credential_id);

-- name: UsePasskey :exec
-- Records an accepted assertion: the authenticator's counter and flags.
UPDATE passkeys
SET sign_count = sqlc.arg(sign_count), backup_state = sqlc.arg(backup_state), last_used_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id);

-- name: RenamePasskey :one
UPDATE passkeys SET friendly_name = sqlc.arg(friendly_name)
WHERE id = sqlc.arg(id) AND user_id = sqlc.arg(user_id)
RETURNING *;

-- name: DeletePasskey :execrows
DELETE FROM passkeys WHERE id = sqlc.arg(id) AND user_id = sqlc.arg(user_id);

-- name: CreateWebauthnCeremony :exec
INSERT INTO webauthn_ceremonies (challenge_hash, ceremony, user_id, session_id, mfa_challenge_id, session_data, created_at, expires_at)
VALUES (sqlc.arg(challenge_hash), sqlc.arg(ceremony), sqlc.narg(user_id), sqlc.narg(session_id), sqlc.narg(mfa_challenge_id),
        sqlc.arg(session_data), sqlc.arg(now)::timestamptz, sqlc.arg(expires_at));

-- name: TakeWebauthnCeremony :one
-- Spends a ceremony: deletes and returns it when its challenge is live and
-- of this kind. A second answer to one challenge finds nothing.
DELETE FROM webauthn_ceremonies
WHERE challenge_hash = sqlc.arg(challenge_hash) AND ceremony = sqlc.arg(ceremony) AND expires_at > sqlc.arg(now)::timestamptz
RETURNING *;

-- name: PruneWebauthnCeremonies :execrows
DELETE FROM webauthn_ceremonies WHERE expires_at < sqlc.arg(now)::timestamptz;
