-- name: CreateIdentity :one
-- No row when (provider, subject) is linked already.
INSERT INTO identities (user_id, provider, subject, email, email_verified, created_at, last_login_at)
VALUES (sqlc.arg(user_id), sqlc.arg(provider), sqlc.arg(subject), sqlc.arg(email), sqlc.arg(email_verified),
        sqlc.arg(now)::timestamptz, sqlc.narg(last_login_at))
ON CONFLICT (provider, subject) DO NOTHING
RETURNING *;

-- name: GetIdentityBySubject :one
SELECT * FROM identities WHERE provider = sqlc.arg(provider) AND subject = sqlc.arg(subject);

-- name: TouchIdentity :exec
-- A login through the identity: what the provider asserts now, and when.
UPDATE identities
SET email = sqlc.arg(email), email_verified = sqlc.arg(email_verified), last_login_at = sqlc.arg(now)::timestamptz
WHERE id = sqlc.arg(id);

-- name: ListIdentities :many
-- The user's identities, oldest first.
SELECT * FROM identities WHERE user_id = sqlc.arg(user_id) ORDER BY created_at, id;

-- name: CountIdentities :one
SELECT count(*) FROM identities WHERE user_id = sqlc.arg(user_id);

-- name: DeleteIdentity :one
DELETE FROM identities WHERE id = sqlc.arg(id) AND user_id = sqlc.arg(user_id)
RETURNING *;

-- name: GetIdentityForShare :one
-- The identity, kept from removal until the transaction ends (read under
-- the account's lock, which every removal takes first).
SELECT * FROM identities WHERE provider = sqlc.arg(provider) AND subject = sqlc.arg(subject) FOR SHARE;

-- name: DeleteIdentitiesAddedUnproved :many
-- A reset proves the address: identities linked while the account's address
-- was not proved (verified_at: null, or after they were linked) go.
DELETE FROM identities
WHERE user_id = sqlc.arg(user_id) AND (sqlc.narg(verified_at)::timestamptz IS NULL OR created_at < sqlc.narg(verified_at)::timestamptz)
RETURNING *;

-- name: DeletePasskeysAddedUnproved :many
-- Likewise for passkeys.
DELETE FROM passkeys
WHERE user_id = sqlc.arg(user_id) AND (sqlc.narg(verified_at)::timestamptz IS NULL OR created_at < sqlc.narg(verified_at)::timestamptz)
RETURNING *;


-- name: LoginMethods :one
-- The ways the user can log in: a password, passkeys, identities. Read
-- under lockFactorsOf so that two removals cannot both take the last one.
SELECT (u.password_hash <> '')::boolean AS has_password,
       (SELECT count(*) FROM passkeys p WHERE p.user_id = u.id) AS passkeys,
       (SELECT count(*) FROM identities i WHERE i.user_id = u.id) AS identities
FROM users u WHERE u.id = sqlc.arg(user_id);

-- name: CreateOidcLink :exec
INSERT INTO oidc_links (token_hash, provider, user_id, session_id, redirect_to, app_challenge, created_at, expires_at)
VALUES (sqlc.arg(token_hash), sqlc.arg(provider), sqlc.arg(user_id), sqlc.arg(session_id), sqlc.arg(redirect_to),
        sqlc.arg(app_challenge), sqlc.arg(now)::timestamptz, sqlc.arg(expires_at));

-- name: TakeOidcLink :one
-- Spends a link token of this provider while it is live.
DELETE FROM oidc_links
WHERE token_hash = sqlc.arg(token_hash) AND provider = sqlc.arg(provider) AND expires_at > sqlc.arg(now)::timestamptz
RETURNING *;

-- name: CreateOidcLogin :exec
INSERT INTO oidc_logins (state_hash, browser_hash, provider, nonce_hash, pkce_verifier, redirect_to, app_challenge,
                         link_user_id, link_session_id, created_at, expires_at)
VALUES (sqlc.arg(state_hash), sqlc.arg(browser_hash), sqlc.arg(provider), sqlc.arg(nonce_hash), sqlc.arg(pkce_verifier),
        sqlc.arg(redirect_to), sqlc.arg(app_challenge), sqlc.narg(link_user_id), sqlc.narg(link_session_id),
        sqlc.arg(now)::timestamptz, sqlc.arg(expires_at));

-- name: TakeOidcLogin :one
-- Spends a state while it is live: a second callback with it finds nothing.
DELETE FROM oidc_logins
WHERE state_hash = sqlc.arg(state_hash) AND expires_at > sqlc.arg(now)::timestamptz
RETURNING *;

-- name: CreateOidcCode :exec
INSERT INTO oidc_codes (code_hash, purpose, user_id, session_id, identity_id, app_challenge, provider, subject, email,
                        email_verified, created_at, expires_at)
VALUES (sqlc.arg(code_hash), sqlc.arg(purpose), sqlc.arg(user_id), sqlc.narg(session_id), sqlc.narg(identity_id), sqlc.arg(app_challenge),
        sqlc.arg(provider), sqlc.arg(subject), sqlc.arg(email), sqlc.arg(email_verified),
        sqlc.arg(now)::timestamptz, sqlc.arg(expires_at));

-- name: TakeOidcCode :one
-- Spends a one-time code of this purpose while it is live, whatever the
-- verifier: a wrong one uses it up too.
DELETE FROM oidc_codes
WHERE code_hash = sqlc.arg(code_hash) AND purpose = sqlc.arg(purpose) AND expires_at > sqlc.arg(now)::timestamptz
RETURNING *;

-- name: PruneOidcFlows :execrows
-- Expired link tokens, states and codes.
WITH l AS (DELETE FROM oidc_links WHERE oidc_links.expires_at < sqlc.arg(now)::timestamptz RETURNING 1),
     s AS (DELETE FROM oidc_logins WHERE oidc_logins.expires_at < sqlc.arg(now)::timestamptz RETURNING 1),
     c AS (DELETE FROM oidc_codes WHERE oidc_codes.expires_at < sqlc.arg(now)::timestamptz RETURNING 1)
SELECT (SELECT count(*) FROM l) + (SELECT count(*) FROM s) + (SELECT count(*) FROM c);
