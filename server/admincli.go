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
	return s.setAdminRole(ctx, email, true)
}

// RevokeAdmin takes the admin role from the account of email (`authd admin
// revoke EMAIL`) and records role_revoked on it, by the actor cli; the
// admin API refuses the account from its next request. ErrLastAdmin when
// it is the last active admin; false when it had no admin role.
func (s *Server) RevokeAdmin(ctx context.Context, email string) (bool, error) {
	return s.setAdminRole(ctx, email, false)
}

// setAdminRole is GrantAdmin (grant) and RevokeAdmin.
func (s *Server) setAdminRole(ctx context.Context, email string, grant bool) (bool, error) {
	command, done := "authd admin revoke", "admin role revoked"
	if grant {
		command, done = "authd admin grant", "admin role granted"
	}
	ctx = withInfo(ctx, &requestInfo{id: command, actor: actorCLI})
	var changed bool
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		// Only a revocation can leave no admin: it locks the admins too.
		u, err := s.lockAccount(ctx, q, email, !grant)
		if err != nil || slices.Contains(u.Roles, roleAdmin) == grant {
			return err
		}
		roles := slices.DeleteFunc(slices.Clone(u.Roles), func(r string) bool { return r == roleAdmin })
		if grant {
			roles = append(roles, roleAdmin)
		}
		changed = true
		infoFrom(ctx).userID = u.ID.String()
		_, err = s.setRoles(ctx, q, u, roles)
		return err
	})
	if errors.Is(err, errLastAdmin) {
		return false, ErrLastAdmin
	}
	if changed && err == nil {
		s.log.InfoContext(ctx, done, "actor", actorCLI)
	}
	return changed, err
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
