-- name: RecordEvent :exec
INSERT INTO security_events (user_id, kind, session_id, ip, user_agent, request_id, actor, created_at)
VALUES (sqlc.arg(user_id), sqlc.arg(kind), sqlc.narg(session_id), sqlc.arg(ip), sqlc.arg(user_agent), sqlc.arg(request_id), sqlc.arg(actor), sqlc.arg(now));

-- name: DecoyEvent :exec
-- Stands in for RecordEvent where there is nothing to record (a failed
-- login for an unknown address): taking a transaction id makes the commit
-- write and flush WAL like a real one, and nothing is kept.
SELECT pg_current_xact_id();

-- name: ListEvents :many
-- A page of the user's events, newest first, older than the cursor if given.
SELECT * FROM security_events
WHERE user_id = sqlc.arg(user_id) AND (sqlc.narg(before)::bigint IS NULL OR id < sqlc.narg(before)::bigint)
ORDER BY id DESC
LIMIT sqlc.arg(max_rows);

-- name: PruneEvents :exec
DELETE FROM security_events WHERE created_at < sqlc.arg(before);
