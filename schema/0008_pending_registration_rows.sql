-- +goose Up
-- A pending registration keeps no password (issue 11): the first registrant
-- of an address chose the owner's password when the row held it. The row is
-- the address's newest mailed link and its expiry; the link proves the
-- mailbox, and the password is chosen when it is redeemed. Whether an
-- account exists is asked of users at redemption, so "shadow" rows go too.
-- Links mailed before the upgrade keep working and take the password typed
-- at redemption.
DELETE FROM pending_registrations WHERE shadow;
ALTER TABLE pending_registrations DROP COLUMN password_hash, DROP COLUMN shadow;

-- +goose Down
-- The old code needs a password per row: pending registrations are dropped
-- and their registrants register again.
DELETE FROM pending_registrations;
ALTER TABLE pending_registrations
    ADD COLUMN password_hash text NOT NULL,
    ADD COLUMN shadow boolean NOT NULL;
