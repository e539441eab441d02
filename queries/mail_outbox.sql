-- name: EnqueueMail :exec
INSERT INTO mail_outbox (kind, recipient, subject, text_body, html_body)
VALUES ($1, $2, $3, $4, $5);

-- name: ClaimMail :many
-- Leases up to limit due messages to one worker; rows another worker holds
-- are skipped, never waited for.
UPDATE mail_outbox
SET locked_until = sqlc.arg(lease_until), attempts = attempts + 1
WHERE id IN (
    SELECT due.id FROM mail_outbox AS due
    WHERE due.status = 'pending' AND due.next_attempt_at <= sqlc.arg(now)
      AND (due.locked_until IS NULL OR due.locked_until < sqlc.arg(now))
    ORDER BY due.next_attempt_at
    LIMIT sqlc.arg(max_rows)
    FOR UPDATE SKIP LOCKED
)
RETURNING id, kind, recipient, subject, text_body, html_body, attempts;

-- name: MarkMailSent :exec
-- Sent: the bodies, which carry live tokens, are dropped.
UPDATE mail_outbox
SET status = 'sent', sent_at = sqlc.arg(now), locked_until = NULL, text_body = NULL, html_body = NULL, last_error = NULL
WHERE id = sqlc.arg(id);

-- name: RetryMail :exec
UPDATE mail_outbox
SET next_attempt_at = sqlc.arg(next_attempt_at), locked_until = NULL, last_error = sqlc.arg(last_error)
WHERE id = sqlc.arg(id);

-- name: BuryMail :exec
-- Gave up: parked as dead for an operator, bodies dropped.
UPDATE mail_outbox
SET status = 'dead', locked_until = NULL, last_error = sqlc.arg(last_error), text_body = NULL, html_body = NULL
WHERE id = sqlc.arg(id);

-- name: MailOutboxStats :one
SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
       count(*) FILTER (WHERE status = 'dead')    AS dead
FROM mail_outbox;
