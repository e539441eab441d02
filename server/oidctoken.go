package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/token"
)

// OidcToken implements api.StrictServerInterface: the one-time code of a
// federated login, spent whatever follows, proved by the application's PKCE
// verifier, then what a password login does after the password: the
// account must be active (and verified when that is required), and a
// second factor is asked for when it has one. The session's amr is fed.
func (s *Server) OidcToken(ctx context.Context, req api.OidcTokenRequestObject) (api.OidcTokenResponseObject, error) {
	invalid := api.OidcToken401ApplicationProblemPlusJSONResponse{InvalidOidcCodeApplicationProblemPlusJSONResponse: invalidOidcCode(ctx)}
	row, err := s.db.Queries().TakeOidcCode(ctx, db.TakeOidcCodeParams{CodeHash: token.HashOpaque(req.Body.Code), Purpose: codeLogin, Now: s.now()})
	if errors.Is(err, database.ErrNotFound) {
		s.log.InfoContext(ctx, "federated login code refused: unknown, used or expired")
		return invalid, nil
	}
	if err != nil {
		return nil, err
	}
	name := row.Provider
	if !pkceMatches(req.Body.CodeVerifier, row.AppChallenge) {
		s.logFlowFailure(ctx, name, fedInvalidCode, "the code_verifier does not prove the code's challenge")
		s.countFederated(ctx, name, fedInvalidCode)
		return invalid, nil
	}
	u, err := s.db.Queries().GetUserByID(ctx, row.UserID)
	if errors.Is(err, database.ErrNotFound) || (err == nil && !u.IsActive) {
		s.flowFailed(ctx, name, flowFailure{code: flowAccountDisabled, cause: "the account was deactivated after the callback", account: &row.UserID})
		return invalid, nil
	}
	if err != nil {
		return nil, err
	}
	infoFrom(ctx).userID = u.ID.String()
	if s.mail.RequireVerified && u.EmailVerifiedAt == nil {
		s.countFederated(ctx, name, fedUnverified)
		return api.OidcToken403ApplicationProblemPlusJSONResponse{EmailNotVerifiedApplicationProblemPlusJSONResponse: emailNotVerified(ctx)}, nil
	}
	second, err := s.secondStepNeeded(ctx, u)
	if err != nil {
		return nil, err
	}
	fed := []string{token.MethodFederated}
	if second != noSecondStep {
		ch, err := s.challenge(ctx, u, "", second, fed)
		if errors.Is(err, errCredentialsChanged) {
			return invalid, nil
		}
		if err != nil {
			return nil, err
		}
		s.countFederated(ctx, name, fedMFARequired)
		return api.OidcToken202JSONResponse{MfaChallengeJSONResponse: ch}, nil
	}
	pair, err := s.startSession(ctx, u, "", fed)
	if errors.Is(err, errCredentialsChanged) {
		return invalid, nil // deactivated, or a factor activated, while this ran
	}
	if err != nil {
		return nil, err
	}
	s.countFederated(ctx, name, fedSuccess)
	return api.OidcToken200JSONResponse{TokenPairJSONResponse: pair}, nil
}
