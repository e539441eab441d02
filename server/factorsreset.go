package server

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/gen/db"
)

// ErrNoSuchAccount means no account has the address given.
var ErrNoSuchAccount = errors.New("no account has this address")

// ResetFactors is the operator's answer to a user who lost every factor and
// every recovery code (`authd mfa reset EMAIL`). In one transaction it
// removes the account's factors, recovery codes and login challenges, ends
// every session (whoever holds one may be the reason) and records
// factor_removed, so the account logs in with its password alone. It
// returns how many active factors were removed.
func ResetFactors(ctx context.Context, pool *pgxpool.Pool, email string, now time.Time) (int64, error) {
	var removed int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		u, err := q.GetUserByEmail(ctx, normalizeEmail(email))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoSuchAccount
		}
		if err != nil {
			return err
		}
		if removed, err = q.ResetUserFactors(ctx, u.ID); err != nil {
			return err
		}
		if _, err := q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: u.ID, Now: now}); err != nil {
			return err
		}
		return q.RecordEvent(ctx, db.RecordEventParams{UserID: u.ID, Kind: string(evFactorRemoved), RequestID: "authd mfa reset", Now: now})
	})
	return removed, err
}
