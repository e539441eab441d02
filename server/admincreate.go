package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/mail"
)

// errEmailTaken means the address has an account already.
var errEmailTaken = errors.New("email taken")

// CreateAdminUser implements api.StrictServerInterface: an account without
// a password, and an invitation mailed to its address with a link to
// choose one (a password-reset token that lives AUTHD_INVITE_TTL). Using
// the link also verifies the address (ResetPassword).
func (s *Server) CreateAdminUser(ctx context.Context, req api.CreateAdminUserRequestObject) (api.CreateAdminUserResponseObject, error) {
	roles := []string{}
	if req.Body.Roles != nil {
		roles = roleSet(*req.Body.Roles)
	}
	if msg := s.unknownRoles(roles); msg != "" {
		return api.CreateAdminUser422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: rolesProblem(ctx, msg)}, nil
	}
	if err := guardAdminTier(ctx, roles); err != nil {
		return nil, err
	}
	email := normalizeEmail(req.Body.Email)
	var u db.User
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		u, err = q.CreateInvitedUser(ctx, db.CreateInvitedUserParams{Email: email, Roles: roles, Now: s.now()})
		if err != nil {
			return notFoundMeans(err, errEmailTaken) // no row: the address has an account
		}
		if err := s.recordSecurityEvent(ctx, q, u.ID, evAdminUserCreated, nil); err != nil {
			return err
		}
		if err := s.recordRoleChanges(ctx, q, u.ID, nil, roles); err != nil {
			return err
		}
		return s.invite(ctx, q, u)
	})
	switch {
	case errors.Is(err, errEmailTaken):
		return api.CreateAdminUser409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: emailTaken(ctx, "An account with this email already exists.")}, nil
	case err != nil:
		return nil, err
	}
	s.log.InfoContext(ctx, "user created and invited", "subject_id", u.ID.String(), "actor", infoFrom(ctx).actor)
	return api.CreateAdminUser201JSONResponse(adminUserJSON(u)), nil
}

// invite queues u's invitation in q's transaction. It asks the mailbox's
// throttle like every mail; a throttled invitation (another to the same
// mailbox within AUTHD_MAIL_THROTTLE) is not sent, which the log says, and
// the user can still ask for a link at POST /auth/password/forgot.
func (s *Server) invite(ctx context.Context, q *db.Queries, u db.User) error {
	ok, err := s.mayMail(ctx, mail.KindInvitation, u.Email, true)
	if err != nil {
		return err
	}
	if !ok {
		s.log.WarnContext(ctx, "invitation throttled: not mailed", "subject_id", u.ID.String())
		return nil
	}
	link, err := s.storeToken(ctx, q, db.ReplaceAccountTokenParams{UserID: u.ID, Kind: tokenPasswordReset, ExpiresAt: s.now().Add(s.admin.InviteTTL)})
	if err != nil {
		return err
	}
	return s.queueMail(ctx, q, mail.KindInvitation, &u.ID, u.Email, mail.Data{Email: u.Email, Link: link, ExpiresIn: humanTTL(s.admin.InviteTTL)})
}

// roleSet is roles as a set: sorted, each once, never nil (the column is
// NOT NULL).
func roleSet(roles []string) []string {
	set := append([]string{}, roles...)
	slices.Sort(set)
	return slices.Compact(set)
}

// unknownRoles names the roles that are neither admin nor one of
// AUTHD_ROLES, or is empty when every role is known.
func (s *Server) unknownRoles(roles []string) string {
	var unknown []string
	for _, r := range roles {
		if r != roleAdmin && !slices.Contains(s.admin.Roles, r) {
			unknown = append(unknown, r)
		}
	}
	if unknown == nil {
		return ""
	}
	known := append([]string{roleAdmin}, s.admin.Roles...)
	return fmt.Sprintf("unknown role %s; known roles: %s", strings.Join(unknown, ", "), strings.Join(known, ", "))
}

// rolesProblem is the 422 naming the roles field.
func rolesProblem(ctx context.Context, msg string) api.UnprocessableEntityApplicationProblemPlusJSONResponse {
	return api.UnprocessableEntityApplicationProblemPlusJSONResponse(policyProblem(ctx, []string{msg}, "roles"))
}
