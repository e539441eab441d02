package server

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/db"
)

// errLastAdmin is the 409 of a change that would leave no active admin.
var errLastAdmin = &problemError{typ: typeLastAdmin, detail: "This is the last active admin; make another admin first."}

// keepAnAdmin is called, inside the transaction, before a change that ends
// userID's being an active admin (its admin role removed, the account
// disabled or erased). It locks the active admins, so two such changes run
// one after the other and cannot both see another admin left, and answers
// errLastAdmin when userID is the only one.
func keepAnAdmin(ctx context.Context, q *db.Queries, userID uuid.UUID) error {
	admins, err := q.LockActiveAdmins(ctx)
	if err != nil {
		return err
	}
	if len(admins) == 1 && slices.Contains(admins, userID) {
		return errLastAdmin
	}
	return nil
}

// lockUser holds the row of u (read before, unlocked) for a change and
// returns it as it is now. With ending, a change that may end u's being an
// admin (a role removed, erasure), the active admins are locked first when
// u is one (keepAnAdmin: errLastAdmin), so that such changes of different
// users take their locks in one order; and checked again if u became an
// admin before its row was held. database.ErrNotFound when u is gone.
func lockUser(ctx context.Context, q *db.Queries, u db.User, ending bool) (db.User, error) {
	checked := ending && slices.Contains(u.Roles, roleAdmin)
	if checked {
		if err := keepAnAdmin(ctx, q, u.ID); err != nil {
			return u, err
		}
	}
	if err := lockFactorsOf(ctx, q, u.ID); err != nil {
		return u, err
	}
	cur, err := q.GetUserByID(ctx, u.ID) // held now: current
	if err != nil {
		return u, err
	}
	if ending && !checked && slices.Contains(cur.Roles, roleAdmin) {
		return cur, keepAnAdmin(ctx, q, u.ID)
	}
	return cur, nil
}
