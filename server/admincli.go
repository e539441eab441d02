package server

import (
	"context"
	"errors"
	"slices"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
)

// actorCLI is the actor of what an operator does on the command line.
const actorCLI = "cli"

// ErrLastAdmin means the change would leave no active admin.
var ErrLastAdmin = errors.New("this is the last active admin; make another admin first")

// ErrNoSuchCredential means no live service credential has that name or id.
var ErrNoSuchCredential = errors.New("no live service credential has this name or id")

// GrantAdmin gives the account of email the admin role (`authd admin
// grant EMAIL`) and records role_granted on it, by the actor cli. It
// reports false when the account had the role already.
func (s *Server) GrantAdmin(ctx context.Context, email string) (bool, error) {
	ctx = withInfo(ctx, &requestInfo{id: "authd admin grant", actor: actorCLI})
	var granted bool
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		u, err := s.lockAccount(ctx, q, email, false)
		if err != nil || slices.Contains(u.Roles, roleAdmin) {
			return err
		}
		if _, err := q.SetUserRoles(ctx, db.SetUserRolesParams{ID: u.ID, Roles: append(slices.Clone(u.Roles), roleAdmin), Now: s.now()}); err != nil {
			return err
		}
		granted = true
		infoFrom(ctx).userID = u.ID.String()
		return s.recordSecurityEvent(ctx, q, u.ID, evRoleGranted, nil)
	})
	if granted && err == nil {
		s.log.InfoContext(ctx, "admin role granted", "actor", actorCLI)
	}
	return granted, err
}

// RevokeAdmin takes the admin role from the account of email (`authd admin
// revoke EMAIL`) and records role_revoked on it, by the actor cli; the
// admin API refuses the account from its next request. ErrLastAdmin when
// it is the last active admin; false when it had no admin role.
func (s *Server) RevokeAdmin(ctx context.Context, email string) (bool, error) {
	ctx = withInfo(ctx, &requestInfo{id: "authd admin revoke", actor: actorCLI})
	var revoked bool
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		u, err := s.lockAccount(ctx, q, email, true)
		if err != nil || !slices.Contains(u.Roles, roleAdmin) {
			return err
		}
		roles := slices.DeleteFunc(slices.Clone(u.Roles), func(r string) bool { return r == roleAdmin })
		if _, err := q.SetUserRoles(ctx, db.SetUserRolesParams{ID: u.ID, Roles: roles, Now: s.now()}); err != nil {
			return err
		}
		revoked = true
		infoFrom(ctx).userID = u.ID.String()
		return s.recordSecurityEvent(ctx, q, u.ID, evRoleRevoked, nil)
	})
	if errors.Is(err, errLastAdmin) {
		return false, ErrLastAdmin
	}
	if revoked && err == nil {
		s.log.InfoContext(ctx, "admin role revoked", "actor", actorCLI)
	}
	return revoked, err
}

// lockAccount finds the account of email and holds its row (lockUser).
// ErrNoSuchAccount for an unknown address.
func (s *Server) lockAccount(ctx context.Context, q *db.Queries, email string, ending bool) (db.User, error) {
	u, err := q.GetUserByEmail(ctx, normalizeEmail(email))
	if err != nil {
		return u, notFoundMeans(err, ErrNoSuchAccount)
	}
	u, err = lockUser(ctx, q, u, ending)
	return u, notFoundMeans(err, ErrNoSuchAccount)
}

// ServiceCredentials lists every service credential, revoked and expired
// ones too (`authd admin credentials list`); rows carry only the hash of
// a secret.
func (s *Server) ServiceCredentials(ctx context.Context) ([]db.ServiceCredential, error) {
	return s.db.Queries().ListServiceCredentials(ctx)
}

// RevokeServiceCredential revokes the live credential with this name or id
// (`authd admin credentials revoke`): it is refused from the next request.
// ErrNoSuchCredential when there is none.
func (s *Server) RevokeServiceCredential(ctx context.Context, nameOrID string) (db.ServiceCredential, error) {
	cred, err := s.db.Queries().RevokeServiceCredential(ctx, db.RevokeServiceCredentialParams{NameOrID: nameOrID, Now: s.now()})
	if errors.Is(err, database.ErrNotFound) {
		return cred, ErrNoSuchCredential
	}
	return cred, err
}
