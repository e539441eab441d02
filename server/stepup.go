package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-webauthn/webauthn/protocol"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/token"
)

// stepUpExtension marks, in the spec, the operations an attacker holding a
// stolen access token would use to keep the account: they need a recent,
// strong enough authentication (requireRecentAuth).
const stepUpExtension = "x-authd-step-up"

// stepUpRoutes maps the routes whose operation carries stepUpExtension. The
// mark only makes sense on a bearer-protected operation; elsewhere it stops
// the start rather than being ignored.
func stepUpRoutes(spec *openapi3.T, protected map[string]bool) (map[string]bool, error) {
	sensitive := map[string]bool{}
	for route, r := range specRoutes(spec) {
		op := r.Operation
		v, ok := op.Extensions[stepUpExtension]
		if !ok {
			continue
		}
		if v != true || !protected[route] {
			return nil, fmt.Errorf("%s: %s must be true and only on a bearerAuth operation", route, stepUpExtension)
		}
		sensitive[route] = true
	}
	return sensitive, nil
}

// requireRecentAuth admits the caller of a sensitive operation when its
// token's auth_time is within the step-up age and, if the account has an
// active second factor, the session used one (aal 2). Otherwise it is the
// 401 step-up-required that says which.
func (s *Server) requireRecentAuth(ctx context.Context) error {
	me := caller(ctx)
	hasFactor, err := s.db.Queries().HasActiveFactor(ctx, me.user.ID)
	if err != nil {
		return err
	}
	age := s.now().Sub(me.claims.AuthTime)
	recent := !me.claims.AuthTime.IsZero() && age <= s.mfa.StepUpMaxAge
	if recent && (!hasFactor || me.claims.AAL() >= 2) {
		return nil
	}
	return stepUpRequired(s.mfa.StepUpMaxAge, hasFactor)
}

// StepUp implements api.StrictServerInterface: the caller authenticates
// again on its session, whose auth_time becomes now and whose amr gains the
// method used; the answer is a new pair, and the session's previous refresh
// token is used up. On an account with an active factor only a code raises
// the session (a password alone is a 422, refused before anything is
// checked or counted). A password is checked as current_password is (the
// login backoff, login_failed); a code or recovery code counts against the
// same backoff and a wrong one leaves mfa_failed.
func (s *Server) StepUp(ctx context.Context, req api.StepUpRequestObject) (api.StepUpResponseObject, error) {
	if req.Body.Password != nil {
		return s.stepUpWithPassword(ctx, *req.Body.Password)
	}
	if req.Body.Passkey != nil {
		assertion, bad := parseAssertion(ctx, "passkey", *req.Body.Passkey)
		if bad != nil {
			return api.StepUp422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: *bad}, nil
		}
		return s.stepUpWithPasskey(ctx, assertion)
	}
	f := secondFactor{}
	if req.Body.Code != nil {
		f.code = *req.Body.Code
	}
	if req.Body.RecoveryCode != nil {
		f.recoveryCode = *req.Body.RecoveryCode
	}
	if f.code == "" && f.recoveryCode == "" {
		// The spec's minProperties/maxProperties leave one of the three.
		return api.StepUp400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, "Send one of password, code, recovery_code or passkey.")}, nil
	}
	return s.stepUpWithCode(ctx, f)
}

// stepUpWithPassword raises the session of an account without a factor.
func (s *Server) stepUpWithPassword(ctx context.Context, pw string) (api.StepUpResponseObject, error) {
	me := caller(ctx)
	hasFactor, err := s.db.Queries().HasActiveFactor(ctx, me.user.ID)
	if err != nil {
		return nil, err
	}
	if hasFactor {
		return api.StepUp422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: passwordNotEnough(ctx)}, nil
	}
	ok, err := s.checkCurrentPassword(ctx, &pw)
	var wait *refusal
	switch {
	case errors.As(err, &wait):
		s.metrics.StepUps.WithLabelValues("throttled").Inc()
		return api.StepUp429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case err != nil:
		return nil, err
	case !ok:
		s.metrics.StepUps.WithLabelValues("wrong_password").Inc()
		return api.StepUp403ApplicationProblemPlusJSONResponse{StepUpRefusedApplicationProblemPlusJSONResponse: api.StepUpRefusedApplicationProblemPlusJSONResponse(wrongPassword(ctx, "The password is incorrect."))}, nil
	}
	var raised raisedSession
	err = s.db.InTx(ctx, func(q *db.Queries) (err error) {
		raised, err = s.raiseSession(ctx, q, token.MethodPassword)
		return err
	})
	return s.stepUpAnswer(ctx, raised, err)
}

// stepUpWithCode raises the session with a TOTP or recovery code, counted
// in the login backoff. The code is spent in the transaction that raises
// the session, so a step-up that fails leaves it unspent for its retry.
func (s *Server) stepUpWithCode(ctx context.Context, f secondFactor) (api.StepUpResponseObject, error) {
	me, ip := caller(ctx), infoFrom(ctx).ip
	wait, err := s.admitLogin(ctx, me.user.Email, ip)
	switch {
	case err != nil:
		return nil, err
	case wait != nil:
		s.metrics.StepUps.WithLabelValues("throttled").Inc()
		s.metrics.MFA.WithLabelValues(f.method(), "throttled").Inc()
		return api.StepUp429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	}
	var verdict factorVerdict
	var raised raisedSession
	err = s.db.InTx(ctx, func(q *db.Queries) (err error) {
		verdict, err = s.spendSecondFactor(ctx, q, me.user, &me.sessionID, f)
		if err != nil || verdict != factorAccepted {
			return err
		}
		raised, err = s.raiseSession(ctx, q, token.MethodOTP)
		return err
	})
	if err == nil && verdict != factorAccepted {
		outcome := "wrong_code"
		if verdict == factorReplayed {
			outcome = "replayed"
		}
		s.recordMFAFailure(ctx, me.user.ID, &me.sessionID)
		s.metrics.MFA.WithLabelValues(f.method(), outcome).Inc()
		s.metrics.StepUps.WithLabelValues("wrong_code").Inc()
		return api.StepUp403ApplicationProblemPlusJSONResponse{StepUpRefusedApplicationProblemPlusJSONResponse: api.StepUpRefusedApplicationProblemPlusJSONResponse(invalidMfaCode(ctx))}, nil
	}
	if err == nil {
		s.metrics.MFA.WithLabelValues(f.method(), "success").Inc()
		s.forgiveLogin(ctx, me.user.Email, ip)
	}
	return s.stepUpAnswer(ctx, raised, err)
}

// stepUpWithPasskey raises the session with an assertion for a ceremony
// StepUpPasskeyOptions started on it, counted in the login backoff like a
// code. The assertion is checked and the passkey's counter moved in the
// transaction that raises the session; a refusal commits what it spent
// (the ceremony, a passkey_clone_suspected event) and leaves mfa_failed.
func (s *Server) stepUpWithPasskey(ctx context.Context, assertion *protocol.ParsedCredentialAssertionData) (api.StepUpResponseObject, error) {
	me, ip := caller(ctx), infoFrom(ctx).ip
	wait, err := s.admitLogin(ctx, me.user.Email, ip)
	switch {
	case err != nil:
		return nil, err
	case wait != nil:
		s.metrics.StepUps.WithLabelValues("throttled").Inc()
		s.metrics.MFA.WithLabelValues(methodPasskey, "throttled").Inc()
		return api.StepUp429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	}
	var verdict passkeyVerdict
	var raised raisedSession
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		v, pk, err := s.checkStepUpPasskey(ctx, q, assertion)
		verdict = v
		if err != nil || v != passkeyAccepted {
			return err
		}
		raised, err = s.raiseSession(ctx, q, passkeyMethod(pk.BackupEligible))
		return err
	})
	if err == nil && verdict != passkeyAccepted {
		s.recordMFAFailure(ctx, me.user.ID, &me.sessionID)
		s.metrics.MFA.WithLabelValues(methodPasskey, verdict.outcome()).Inc()
		s.metrics.StepUps.WithLabelValues("wrong_code").Inc()
		return api.StepUp403ApplicationProblemPlusJSONResponse{StepUpRefusedApplicationProblemPlusJSONResponse: api.StepUpRefusedApplicationProblemPlusJSONResponse(passkeyNotAccepted(ctx))}, nil
	}
	if err == nil {
		s.metrics.MFA.WithLabelValues(methodPasskey, "success").Inc()
		s.forgiveLogin(ctx, me.user.Email, ip)
	}
	return s.stepUpAnswer(ctx, raised, err)
}

// raisedSession is the caller's session after a step-up.
type raisedSession struct {
	amr     []string
	at      time.Time
	expires time.Time
	refresh string // the session's new refresh token, in clear
}

// raiseSession records a step-up by method on the caller's session in q's
// transaction: auth_time now, method added to amr, a new refresh token that
// uses up the current one. It takes the current refresh token before the
// session, in a refresh's order. errSessionEnded when the session ended.
func (s *Server) raiseSession(ctx context.Context, q *db.Queries, method string) (raisedSession, error) {
	me := caller(ctx)
	r := raisedSession{refresh: token.NewOpaque(), at: s.now()}
	if err := q.LockSessionRefreshTokens(ctx, me.sessionID); err != nil {
		return r, err
	}
	sess, err := q.LockSessionForStepUp(ctx, db.LockSessionForStepUpParams{ID: me.sessionID, Now: r.at})
	if err != nil {
		return r, notFoundMeans(err, errSessionEnded)
	}
	r.amr, r.expires = sess.Amr, sess.ExpiresAt
	if !slices.Contains(r.amr, method) {
		r.amr = append(slices.Clone(r.amr), method)
	}
	if err := q.StepUpSession(ctx, db.StepUpSessionParams{SessionID: me.sessionID, TokenHash: token.HashOpaque(r.refresh), Amr: r.amr, Now: r.at}); err != nil {
		return r, err
	}
	return r, s.recordSecurityEvent(ctx, q, me.user.ID, evStepUp, &me.sessionID)
}

// stepUpAnswer answers a step-up whose raising transaction ended with err:
// the raised session's new pair, or the 401 of a session that ended.
func (s *Server) stepUpAnswer(ctx context.Context, r raisedSession, err error) (api.StepUpResponseObject, error) {
	switch {
	case errors.Is(err, errSessionEnded):
		return api.StepUp401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: sessionEnded(ctx)}, nil
	case err != nil:
		return nil, err
	}
	me := caller(ctx)
	pair, err := s.issuePair(token.Claims{UserID: me.user.ID, SessionID: me.sessionID, AMR: r.amr, AuthTime: r.at, Roles: me.user.Roles}, r.refresh, r.expires)
	if err != nil {
		return nil, err
	}
	s.metrics.StepUps.WithLabelValues("success").Inc()
	return api.StepUp200JSONResponse{TokenPairJSONResponse: pair}, nil
}

// passwordNotEnough is the 422 of a step-up with a password on an account
// with an active second factor: it needs a code.
func passwordNotEnough(ctx context.Context) api.UnprocessableEntityApplicationProblemPlusJSONResponse {
	p := problem(ctx, typeValidation, "1 field is invalid.")
	p.Errors = &[]api.FieldError{{Field: "code", Message: "the account has a second factor: send a code or a recovery code instead of the password"}}
	return api.UnprocessableEntityApplicationProblemPlusJSONResponse(p)
}
