package server

import (
	"context"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
)

// DeleteAdminUserFactor implements api.StrictServerInterface: for a user
// locked out of their account, one of their TOTP factors (active or an
// enrolment) or passkeys goes. It locks as the user's own removals do
// (DeleteFactor, DeletePasskey), so the removal of the last second factor
// voids the recovery codes; the user is mailed the same notice as when
// they remove it themselves. Anything that is not this user's factor or
// passkey is not found.
func (s *Server) DeleteAdminUserFactor(ctx context.Context, req api.DeleteAdminUserFactorRequestObject) (api.DeleteAdminUserFactorResponseObject, error) {
	var metric string
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		if err := lockFactorsOf(ctx, q, req.Id); err != nil {
			return err
		}
		u, err := guardTarget(ctx, q, req.Id)
		if err != nil {
			return err
		}
		notice := ""
		if metric, notice, err = removeFactorOrPasskey(ctx, q, req.Id, req.Fid); err != nil {
			return err
		}
		if err := s.dropCodesWithoutFactor(ctx, q, req.Id); err != nil {
			return err
		}
		if err := s.recordSecurityEvent(ctx, q, req.Id, evAdminFactorRemoved, nil); err != nil {
			return err
		}
		if notice == "" {
			return nil
		}
		return s.noticeMail(ctx, q, notice, u.ID, u.Email)
	})
	switch {
	case errors.Is(err, database.ErrNotFound):
		return api.DeleteAdminUserFactor404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such factor or passkey of this user.")}, nil
	case err != nil:
		return nil, err
	}
	if metric != "" {
		s.metrics.Factors.WithLabelValues(metric).Inc()
	}
	s.log.InfoContext(ctx, "second factor removed by an admin", "subject_id", req.Id.String(), "actor", infoFrom(ctx).actor)
	return api.DeleteAdminUserFactor204Response{}, nil
}

// removeFactorOrPasskey deletes the user's TOTP factor or passkey id, in
// q's transaction, which holds the user row, and says which metric counts
// it and which notice to mail; both are empty for an enrolment never
// activated, which was never announced either. ErrNotFound when the user
// has neither with that id.
func removeFactorOrPasskey(ctx context.Context, q *db.Queries, userID, id uuid.UUID) (metric, notice string, err error) {
	active, err := q.LockActiveFactors(ctx, userID)
	if err != nil {
		return "", "", err
	}
	n, err := q.DeleteFactor(ctx, db.DeleteFactorParams{ID: id, UserID: userID})
	if err != nil {
		return "", "", err
	}
	if n > 0 {
		if slices.ContainsFunc(active, func(f db.MfaFactor) bool { return f.ID == id }) {
			return "removed", mail.KindFactorRemoved, nil
		}
		return "", "", nil
	}
	if n, err = q.DeletePasskey(ctx, db.DeletePasskeyParams{ID: id, UserID: userID}); err != nil {
		return "", "", err
	}
	if n == 0 {
		return "", "", database.ErrNotFound
	}
	return "passkey_removed", mail.KindPasskeyRemoved, nil
}
