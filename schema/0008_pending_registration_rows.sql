-- +goose Up
-- Every registration of an address is a row of its own, with the password
-- its registrant chose (issue 11): holding the address for the first
-- registrant let that registrant choose the owner's password. A link proves
-- the mailbox; redeeming it names the password, which picks the row. The
-- application keeps at most a few rows per address (server.PendingPerAddress).
ALTER TABLE pending_registrations DROP CONSTRAINT pending_registrations_pkey;
ALTER TABLE pending_registrations ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY;
CREATE INDEX pending_registrations_email_idx ON pending_registrations (email, id DESC);

-- +goose Down
-- One row per address again: the newest of each stays.
DELETE FROM pending_registrations p
WHERE EXISTS (SELECT 1 FROM pending_registrations n WHERE n.email = p.email AND n.id > p.id);
DROP INDEX pending_registrations_email_idx;
ALTER TABLE pending_registrations DROP COLUMN id;
ALTER TABLE pending_registrations ADD PRIMARY KEY (email);
