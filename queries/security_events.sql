-- name: RecordEvent :exec
INSERT INTO security_events (user_id, kind, session_id, ip, user_agent, request_id)
VALUES (sqlc.arg(user_id), sqlc.arg(kind), sqlc.narg(session_id), sqlc.arg(ip), sqlc.arg(user_agent), sqlc.arg(request_id));

-- name: ListEvents :many
-- A page of the user's events, newest first, older than the cursor if given.
SELECT id, kind, session_id, ip, user_agent, request_id, created_at
FROM security_events
WHERE user_id = sqlc.arg(user_id) AND (sqlc.narg(before)::bigint IS NULL OR id < sqlc.narg(before)::bigint)
ORDER BY id DESC
LIMIT sqlc.arg(max_rows);

-- name: PruneEvents :exec
DELETE FROM security_events WHERE created_at < sqlc.arg(before);
