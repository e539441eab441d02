package server

import (
	"context"
	"errors"
	"strings"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// errNoSuchUser means the user to act on does not exist (any more).
var errNoSuchUser = errors.New("no such user")

// eraseUser deletes the user and every row that names them, in one
// transaction, and keeps only that an erasure happened and who asked (the
// request's actor, empty for the user themself). Locks are taken in the order
// the rest of authd takes them: the user's login challenges, the active
// admins and the user row (lockUser: errLastAdmin for the last active
// admin), then refresh tokens and sessions in a refresh's order.
// errNoSuchUser for an unknown id; errAdminTier for a credential and an admin.
func (s *Server) eraseUser(ctx context.Context, userID uuid.UUID) error {
	actor := infoFrom(ctx).actor
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		before, err := q.GetUserByID(ctx, userID)
		if err != nil {
			return notFoundMeans(err, errNoSuchUser)
		}
		if err := q.LockUserMfaChallenges(ctx, userID); err != nil {
			return err
		}
		if err := guardAdminTier(ctx, before.Roles); err != nil {
			return err
		}
		u, err := lockUser(ctx, q, before, true)
		if err != nil {
			return notFoundMeans(err, errNoSuchUser)
		}
		if err := guardAdminTier(ctx, u.Roles); err != nil {
			return err
		}
		if err := q.LockSessionsOfUser(ctx, userID); err != nil {
			return err
		}
		return s.deleteEverythingOf(ctx, q, u, actor)
	})
	if err != nil {
		return err
	}
	if info := infoFrom(ctx); info.userID == userID.String() {
		info.userID = "" // the request's remaining log lines must not name the erased either
	}
	by := erasedBy(actor)
	s.metrics.Erasures.WithLabelValues(by).Inc()
	// Who asked, never whom: the erasure keeps nothing of the person.
	s.log.InfoContext(ctx, "account erased", "by", by, "actor", actor)
	return nil
}

// deleteEverythingOf is eraseUser's work once the locks are held: what does
// not cascade from the users row goes first (mail to the address queued for
// no account, a pending registration of it, the user's name as the actor of
// admin actions), then the row with everything that references it (the
// mail queued for the account among them), then the erasure's record.
func (s *Server) deleteEverythingOf(ctx context.Context, q *db.Queries, u db.User, actor string) error {
	if _, err := q.DeleteMailToAddress(ctx, u.Email); err != nil {
		return err
	}
	if err := q.DeletePendingRegistration(ctx, u.Email); err != nil {
		return err
	}
	if err := q.ScrubActor(ctx, actorAdmin+u.ID.String()); err != nil {
		return err
	}
	n, err := q.DeleteUser(ctx, u.ID)
	if err != nil {
		return err
	}
	if n != 1 {
		return errNoSuchUser
	}
	return q.RecordErasure(ctx, db.RecordErasureParams{Actor: actor, Now: s.now()})
}

// erasedBy names who asked for an erasure, for metrics and logs.
func erasedBy(actor string) string {
	switch {
	case actor == "":
		return "self"
	case strings.HasPrefix(actor, actorService):
		return "service"
	}
	return "admin"
}

// EraseAdminUser implements api.StrictServerInterface: an admin or a
// credential with users:erase erases a user. Erasing oneself is refused
// here (DELETE /users/me?erase=true asks for the password and step-up).
func (s *Server) EraseAdminUser(ctx context.Context, req api.EraseAdminUserRequestObject) (api.EraseAdminUserResponseObject, error) {
	if me := caller(ctx); me != nil && me.user.ID == req.Id {
		p := problem(ctx, typeConflict, "Erase your own account with DELETE /users/me?erase=true.")
		return api.EraseAdminUser409ApplicationProblemPlusJSONResponse{LastAdminApplicationProblemPlusJSONResponse: api.LastAdminApplicationProblemPlusJSONResponse(p)}, nil
	}
	err := s.eraseUser(ctx, req.Id)
	switch {
	case errors.Is(err, errNoSuchUser):
		return api.EraseAdminUser404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such user.")}, nil
	case errors.Is(err, errLastAdmin):
		return api.EraseAdminUser409ApplicationProblemPlusJSONResponse{LastAdminApplicationProblemPlusJSONResponse: lastAdmin(ctx)}, nil
	case err != nil:
		return nil, err
	}
	return api.EraseAdminUser204Response{}, nil
}

// lastAdmin is the 409 of errLastAdmin as a typed response.
func lastAdmin(ctx context.Context) api.LastAdminApplicationProblemPlusJSONResponse {
	return api.LastAdminApplicationProblemPlusJSONResponse(problem(ctx, errLastAdmin.typ, errLastAdmin.detail))
}
