-- +goose Up
-- A sealed successor now lives only while its retry can still apply: the next
-- rotation of the session clears it, and the pruner clears it once the retry
-- window has passed. Those stored before were sealed without associated data,
-- would no longer open, and are cleared here.
UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL;

-- The few rows that hold a sealed successor (at most one per session): found
-- by the rotation that clears it and by the pruner.
CREATE INDEX refresh_tokens_sealed_idx ON refresh_tokens (session_id) WHERE successor_sealed IS NOT NULL;

-- When a session ended (LEAST ignores a NULL revoked_at), for the pruner,
-- which deletes ended sessions with their refresh tokens.
CREATE INDEX sessions_ended_at_idx ON sessions ((LEAST(expires_at, revoked_at)));

-- +goose Down
DROP INDEX sessions_ended_at_idx;
DROP INDEX refresh_tokens_sealed_idx;
