-- +goose Up
-- Mail to send, written in the transaction that makes the token it carries.
-- Workers claim rows with FOR UPDATE SKIP LOCKED and a lease, so several
-- instances drain it without sending a row twice. The id is the message's
-- idempotency key (and its Message-ID); bodies hold a live token, so they
-- are sealed and cleared once sent.
CREATE TABLE mail_outbox (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    kind            text        NOT NULL,
    recipient       text        NOT NULL,
    subject         text        NOT NULL,
    text_body       text,
    html_body       text,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz
);

CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX mail_outbox_dead_idx ON mail_outbox (created_at) WHERE status = 'dead';
CREATE INDEX mail_outbox_sent_idx ON mail_outbox (sent_at) WHERE status = 'sent';

-- +goose Down
DROP TABLE mail_outbox;
