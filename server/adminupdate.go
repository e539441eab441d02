package server

import (
	"context"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
)

// UpdateAdminUser implements api.StrictServerInterface: the fields sent
// change, in one transaction. Disabling ends every session at once;
// roles replace the set. A change that would leave no active admin is
// refused (409 last-admin): it is decided under the lock of the active
// admins, so of two admins demoting each other at once one succeeds.
func (s *Server) UpdateAdminUser(ctx context.Context, req api.UpdateAdminUserRequestObject) (api.UpdateAdminUserResponseObject, error) {
	b := req.Body
	var roles []string
	if b.Roles != nil {
		roles = roleSet(*b.Roles)
		if msg := s.unknownRoles(roles); msg != "" {
			return api.UpdateAdminUser422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: rolesProblem(ctx, msg)}, nil
		}
	}
	disable := b.Active != nil && !*b.Active
	dropsAdmin := b.Roles != nil && !slices.Contains(roles, roleAdmin)
	var u db.User
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		// The active admins, then the user: every change that can end an
		// admin takes the locks in this order.
		if disable || dropsAdmin {
			if err := keepAnAdmin(ctx, q, req.Id); err != nil {
				return err
			}
		}
		if _, err := q.LockUserCredentials(ctx, req.Id); err != nil {
			return err
		}
		if u, err = q.GetUserByID(ctx, req.Id); err != nil {
			return err
		}
		if err := guardAdminTier(ctx, u.Roles, roles); err != nil {
			return err
		}
		if u, err = s.applyAdminUpdate(ctx, q, u, b, roles); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, u.ID, evAdminUserUpdated, nil)
	})
	switch {
	case errors.Is(err, database.ErrNotFound):
		return api.UpdateAdminUser404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such user.")}, nil
	case errors.Is(err, errLastAdmin):
		p := problem(ctx, typeLastAdmin, errLastAdmin.detail)
		return api.UpdateAdminUser409ApplicationProblemPlusJSONResponse{LastAdminApplicationProblemPlusJSONResponse: api.LastAdminApplicationProblemPlusJSONResponse(p)}, nil
	case err != nil:
		return nil, err
	}
	s.log.InfoContext(ctx, "user updated by an admin", "subject_id", u.ID.String(), "actor", infoFrom(ctx).actor)
	return api.UpdateAdminUser200JSONResponse(adminUserJSON(u)), nil
}

// applyAdminUpdate makes the changes of b to u (locked) in q's transaction
// and returns the user after them. A role added or removed is an event of
// its own.
func (s *Server) applyAdminUpdate(ctx context.Context, q *db.Queries, u db.User, b *api.UpdateAdminUserJSONRequestBody, roles []string) (db.User, error) {
	var err error
	if b.Active != nil && *b.Active {
		if u, err = q.SetUserActive(ctx, db.SetUserActiveParams{ID: u.ID, Active: true, Now: s.now()}); err != nil {
			return u, err
		}
	} else if b.Active != nil {
		if err := s.disableAccount(ctx, q, u.ID); err != nil {
			return u, err
		}
	}
	if b.EmailVerified != nil {
		if u, err = q.SetEmailVerified(ctx, db.SetEmailVerifiedParams{ID: u.ID, Verified: *b.EmailVerified, Now: s.now()}); err != nil {
			return u, err
		}
	}
	if b.Roles != nil {
		if u, err = s.setRoles(ctx, q, u, roles); err != nil {
			return u, err
		}
	}
	return q.GetUserByID(ctx, u.ID) // disableAccount returns no row
}

// setRoles gives u (locked) exactly roles in q's transaction, with an event
// for each role added or removed.
func (s *Server) setRoles(ctx context.Context, q *db.Queries, u db.User, roles []string) (db.User, error) {
	if err := s.recordRoleChanges(ctx, q, u.ID, u.Roles, roles); err != nil {
		return u, err
	}
	return q.SetUserRoles(ctx, db.SetUserRolesParams{ID: u.ID, Roles: roles, Now: s.now()})
}

// recordRoleChanges records role_granted for each role of after that is not
// in before, and role_revoked for each of before that is not in after.
func (s *Server) recordRoleChanges(ctx context.Context, q *db.Queries, userID uuid.UUID, before, after []string) error {
	for _, r := range after {
		if !slices.Contains(before, r) {
			if err := s.recordSecurityEvent(ctx, q, userID, evRoleGranted, nil); err != nil {
				return err
			}
		}
	}
	for _, r := range before {
		if !slices.Contains(after, r) {
			if err := s.recordSecurityEvent(ctx, q, userID, evRoleRevoked, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// disableAccount is what DeleteMe's soft delete does, for an admin: the
// account inactive and every session ended in q's transaction, so the
// user's access tokens stop working at once (each request checks its
// session).
func (s *Server) disableAccount(ctx context.Context, q *db.Queries, userID uuid.UUID) error {
	if err := q.DeactivateUser(ctx, db.DeactivateUserParams{ID: userID, Now: s.now()}); err != nil {
		return err
	}
	return s.countRevoked(ctx, "admin_revoked")(q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: userID, Now: s.now()}))
}
