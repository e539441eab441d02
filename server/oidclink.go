package server

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/federation"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/token"
)

// StartIdentityLink implements api.StrictServerInterface: after step-up
// (middleware) and the password, when the account has one, a link token
// bound to this session opens the provider's login in the browser; the
// callback then hands a code for CompleteIdentityLink instead of logging in.
func (s *Server) StartIdentityLink(ctx context.Context, req api.StartIdentityLinkRequestObject) (api.StartIdentityLinkResponseObject, error) {
	me, name, body := caller(ctx), req.Ref, req.Body
	if !s.oidc.Providers.Configured(name) {
		return api.StartIdentityLink404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such provider; GET /auth/providers lists them.")}, nil
	}
	if !s.redirectAllowed(body.RedirectTo) {
		return api.StartIdentityLink422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: fieldProblem(ctx, "redirect_to",
			"must be one of the application URLs authd is configured with (AUTHD_REDIRECT_URLS), exactly")}, nil
	}
	ok, err := s.checkCurrentPassword(ctx, body.CurrentPassword)
	var wait *refusal
	switch {
	case errors.Is(err, errCurrentPasswordRequired):
		return api.StartIdentityLink422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: currentPasswordRequired(ctx)}, nil
	case errors.As(err, &wait):
		return api.StartIdentityLink429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case err != nil:
		return nil, err
	case !ok:
		return api.StartIdentityLink403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: wrongCurrentPassword(ctx)}, nil
	}
	link := token.NewOpaque()
	err = s.db.Queries().CreateOidcLink(ctx, db.CreateOidcLinkParams{
		TokenHash: token.HashOpaque(link), Provider: name, UserID: me.user.ID, SessionID: me.sessionID,
		RedirectTo: body.RedirectTo, AppChallenge: body.CodeChallenge, Now: s.now(), ExpiresAt: s.now().Add(oidcLinkTTL),
	})
	if err != nil {
		return nil, err
	}
	authorize := strings.TrimRight(s.mail.PublicURL, "/") + "/auth/oidc/" + name + "/authorize?" + url.Values{"link": {link}}.Encode()
	return api.StartIdentityLink200JSONResponse{AuthorizeUrl: authorize}, nil
}

// CompleteIdentityLink implements api.StrictServerInterface: the link's
// one-time code, spent whatever follows, proved by the verifier and
// presented by the session that started the link, links the identity the
// provider asserted to the caller's account.
func (s *Server) CompleteIdentityLink(ctx context.Context, req api.CompleteIdentityLinkRequestObject) (api.CompleteIdentityLinkResponseObject, error) {
	me := caller(ctx)
	invalid := api.CompleteIdentityLink401ApplicationProblemPlusJSONResponse{InvalidOidcCodeApplicationProblemPlusJSONResponse: invalidOidcCode(ctx)}
	row, err := s.db.Queries().TakeOidcCode(ctx, db.TakeOidcCodeParams{CodeHash: token.HashOpaque(req.Body.Code), Purpose: codeLink, Now: s.now()})
	if errors.Is(err, database.ErrNotFound) {
		return invalid, nil
	}
	if err != nil {
		return nil, err
	}
	if !pkceMatches(req.Body.CodeVerifier, row.AppChallenge) || row.SessionID == nil || *row.SessionID != me.sessionID || row.UserID != me.user.ID {
		s.log.WarnContext(ctx, "identity link code refused: wrong verifier or another session's", "provider", row.Provider)
		return invalid, nil
	}
	var ident db.Identity
	var conflict *api.IdentityConflictApplicationProblemPlusJSONResponse
	for range resolveAttempts {
		err = s.db.InTx(ctx, func(q *db.Queries) (err error) {
			ident, conflict, err = s.linkToCaller(ctx, q, row)
			return err
		})
		if !errors.Is(err, errIdentityRaced) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if conflict != nil {
		return api.CompleteIdentityLink409ApplicationProblemPlusJSONResponse{IdentityConflictApplicationProblemPlusJSONResponse: *conflict}, nil
	}
	return api.CompleteIdentityLink201JSONResponse(identityJSON(ident)), nil
}

// linkToCaller links the identity of a link code to the caller's account,
// in q's transaction, under the account's lock: the identity when it is
// linked now or was already (a repeated link is no error), or the conflict
// (another account's identity, or too many).
func (s *Server) linkToCaller(ctx context.Context, q *db.Queries, row db.OidcCode) (db.Identity, *api.IdentityConflictApplicationProblemPlusJSONResponse, error) {
	me := caller(ctx)
	if err := lockFactorsOf(ctx, q, me.user.ID); err != nil {
		return db.Identity{}, nil, err
	}
	owned := func() (db.Identity, *api.IdentityConflictApplicationProblemPlusJSONResponse, error) {
		ident, err := q.GetIdentityBySubject(ctx, db.GetIdentityBySubjectParams{Provider: row.Provider, Subject: row.Subject})
		switch {
		case errors.Is(err, database.ErrNotFound):
			return ident, nil, errIdentityRaced // unlinked again meanwhile: run it again
		case err != nil:
			return ident, nil, err
		case ident.UserID != me.user.ID:
			return ident, ptr(identityInUse(ctx)), nil
		}
		return ident, nil, nil
	}
	if _, err := q.GetIdentityBySubject(ctx, db.GetIdentityBySubjectParams{Provider: row.Provider, Subject: row.Subject}); err == nil {
		return owned()
	} else if !errors.Is(err, database.ErrNotFound) {
		return db.Identity{}, nil, err
	}
	n, err := q.CountIdentities(ctx, me.user.ID)
	if err != nil {
		return db.Identity{}, nil, err
	}
	if n >= maxIdentitiesPerUser {
		return db.Identity{}, ptr(identityLimit(ctx)), nil
	}
	claims := federation.Claims{Subject: row.Subject, Email: row.Email, EmailVerified: row.EmailVerified}
	ident, err := s.createIdentity(ctx, q, me.user.ID, row.Provider, claims, false, &me.sessionID)
	if errors.Is(err, errIdentityRaced) {
		return owned() // taken between the check and the insert
	}
	if err != nil {
		return db.Identity{}, nil, err
	}
	return ident, nil, s.identityNotice(ctx, q, mail.KindIdentityLinked, me.user.ID, me.user.Email, row.Provider)
}

// fieldProblem is the 422 of one field of the body the handler refused.
func fieldProblem(ctx context.Context, field, message string) api.UnprocessableEntityApplicationProblemPlusJSONResponse {
	p := problem(ctx, typeValidation, "1 field is invalid.")
	p.Errors = &[]api.FieldError{{Field: field, Message: message}}
	return api.UnprocessableEntityApplicationProblemPlusJSONResponse(p)
}
