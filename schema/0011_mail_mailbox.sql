-- +goose Up
-- The mailbox an outbox row goes to, in the form the mail throttle keys on
-- (see emailKey: +tag folded, lower case), so that `authd mail requeue` can
-- give each mailbox at most one mail of a kind. Rows queued before this
-- migration get their recipient in lower case.
ALTER TABLE mail_outbox ADD COLUMN mailbox text NOT NULL DEFAULT '';
UPDATE mail_outbox SET mailbox = lower(recipient);
CREATE INDEX mail_outbox_dead_mailbox_idx ON mail_outbox (kind, mailbox, created_at) WHERE status = 'dead';

-- The session that asked for an email change: confirming it ends every
-- other session of the account, as a password change does.
ALTER TABLE account_tokens ADD COLUMN session_id uuid REFERENCES sessions (id) ON DELETE SET NULL;

-- +goose Down
ALTER TABLE account_tokens DROP COLUMN session_id;
DROP INDEX mail_outbox_dead_mailbox_idx;
ALTER TABLE mail_outbox DROP COLUMN mailbox;
