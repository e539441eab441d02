-- name: EnqueueMail :exec
INSERT INTO mail_outbox (kind, user_id, recipient, mailbox, subject, text_body, html_body, created_at, next_attempt_at)
VALUES (sqlc.arg(kind), sqlc.narg(user_id), sqlc.arg(recipient), sqlc.arg(mailbox), sqlc.arg(subject), sqlc.arg(text_body), sqlc.arg(html_body), sqlc.arg(now), sqlc.arg(now));

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
-- Sent: the bodies, which carry live tokens, are dropped. Every outcome
-- update names the lease it was claimed under, so a worker whose lease ran
-- out (and whose row another worker took) changes nothing.
UPDATE mail_outbox
SET status = 'sent', sent_at = sqlc.arg(now), locked_until = NULL, text_body = NULL, html_body = NULL, last_error = NULL
WHERE id = sqlc.arg(id) AND status = 'pending' AND locked_until = sqlc.arg(lease);

-- name: RetryMail :exec
UPDATE mail_outbox
SET next_attempt_at = sqlc.arg(next_attempt_at), locked_until = NULL, last_error = sqlc.arg(last_error)
WHERE id = sqlc.arg(id) AND status = 'pending' AND locked_until = sqlc.arg(lease);

-- name: BuryMail :exec
-- Gave up: parked as dead for an operator (`authd mail requeue`); the bodies
-- stay, sealed, until the row is pruned.
UPDATE mail_outbox
SET status = 'dead', locked_until = NULL, last_error = sqlc.arg(last_error)
WHERE id = sqlc.arg(id) AND status = 'pending' AND locked_until = sqlc.arg(lease);

-- name: MailOutboxStats :one
-- Counts use partial indexes, so probes stay cheap as sent mail piles up.
SELECT (SELECT count(*) FROM mail_outbox WHERE status = 'pending') AS pending,
       (SELECT count(*) FROM mail_outbox WHERE status = 'dead')    AS dead,
       coalesce((SELECT extract(epoch FROM sqlc.arg(now)::timestamptz - min(created_at))::bigint
                 FROM mail_outbox WHERE status = 'pending'), 0)::bigint AS oldest_pending_seconds;

-- name: RequeueDeadMail :execrows
-- Gives dead mail another round (after an operator fixed SMTP), but like the
-- throttle at most one mail of a kind per mailbox: the newest dead one, and
-- only if no newer mail of its kind was queued to that mailbox since.
-- SupersedeDeadMail then retires the rest.
WITH newest AS (
    SELECT DISTINCT ON (kind, mailbox) id, kind, mailbox, created_at
    FROM mail_outbox
    WHERE status = 'dead' AND text_body IS NOT NULL
    ORDER BY kind, mailbox, created_at DESC
)
UPDATE mail_outbox AS m
SET status = 'pending', attempts = 0, next_attempt_at = sqlc.arg(now), locked_until = NULL
FROM newest
WHERE m.id = newest.id
  AND NOT EXISTS (
    SELECT 1 FROM mail_outbox AS later
    WHERE later.kind = newest.kind AND later.mailbox = newest.mailbox
      AND later.status <> 'dead' AND later.created_at > newest.created_at
  );

-- name: SupersedeDeadMail :execrows
-- After RequeueDeadMail, dead mail that still has bodies is older than a
-- mail of its kind to the same mailbox (whose link replaced its link): it
-- is never sent, and its sealed bodies go.
UPDATE mail_outbox
SET text_body = NULL, html_body = NULL, last_error = 'superseded by a newer mail of its kind to the same mailbox'
WHERE status = 'dead' AND text_body IS NOT NULL;

-- name: PruneMailOutbox :exec
-- Sent mail is kept a week, dead mail a month, for operators to look at.
DELETE FROM mail_outbox
WHERE (status = 'sent' AND sent_at < sqlc.arg(sent_before))
   OR (status = 'dead' AND created_at < sqlc.arg(dead_before));

-- name: EnqueueDecoy :one
-- Decoy work (see decoyMail): a row written and, by DropDecoy in the same
-- transaction, deleted again, so no one ever sees it, but the commit costs
-- what a real one does.
INSERT INTO mail_outbox (kind, recipient, subject, text_body, html_body, created_at, next_attempt_at, status)
VALUES (sqlc.arg(kind), sqlc.arg(recipient), sqlc.arg(subject), sqlc.arg(text_body), sqlc.arg(html_body), sqlc.arg(now), sqlc.arg(now), 'dead')
RETURNING id;

-- name: DropDecoy :exec
DELETE FROM mail_outbox WHERE id = $1;

-- name: UnsentMailBodies :many
-- The sealed bodies of mail not sent yet (pending, or dead until requeued or
-- pruned), for `authd keys remove` to tell whether a key still opens some.
SELECT text_body FROM mail_outbox
WHERE status IN ('pending', 'dead') AND text_body IS NOT NULL;
