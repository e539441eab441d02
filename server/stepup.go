package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

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
	for route, op := range specRoutes(spec) {
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
	me := caller(ctx)
	f := secondFactor{}
	if req.Body.Code != nil {
		f.code = *req.Body.Code
	}
	if req.Body.RecoveryCode != nil {
		f.recoveryCode = *req.Body.RecoveryCode
	}
	var method string
	if req.Body.Password != nil {
		hasFactor, err := s.db.Queries().HasActiveFactor(ctx, me.user.ID)
		if err != nil {
			return nil, err
		}
		if hasFactor {
			return api.StepUp422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: passwordNotEnough(ctx)}, nil
		}
		ok, err := s.checkCurrentPassword(ctx, *req.Body.Password)
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
		method = token.MethodPassword
	} else {
		if f.code == "" && f.recoveryCode == "" {
			// The spec's minProperties/maxProperties leave one of the three.
			return api.StepUp400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, "Send one of password, code or recovery_code.")}, nil
		}
		ip := infoFrom(ctx).ip
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
		err = s.db.InTx(ctx, func(q *db.Queries) (err error) {
			verdict, err = s.spendSecondFactor(ctx, q, me.user, &me.sessionID, f)
			return err
		})
		if err != nil {
			return nil, err
		}
		if verdict != factorAccepted {
			outcome := "wrong_code"
			if verdict == factorReplayed {
				outcome = "replayed"
			}
			s.recordMFAFailure(ctx, me.user.ID, &me.sessionID)
			s.metrics.MFA.WithLabelValues(f.method(), outcome).Inc()
			s.metrics.StepUps.WithLabelValues("wrong_code").Inc()
			return api.StepUp403ApplicationProblemPlusJSONResponse{StepUpRefusedApplicationProblemPlusJSONResponse: api.StepUpRefusedApplicationProblemPlusJSONResponse(invalidMfaCode(ctx))}, nil
		}
		s.metrics.MFA.WithLabelValues(f.method(), "success").Inc()
		s.forgiveLogin(ctx, me.user.Email, ip)
		method = token.MethodOTP
	}
	return s.raiseSession(ctx, method)
}

// raiseSession records a successful step-up by method on the caller's
// session and answers its new pair; a session that ended meanwhile is the 401.
func (s *Server) raiseSession(ctx context.Context, method string) (api.StepUpResponseObject, error) {
	me := caller(ctx)
	refresh := token.NewOpaque()
	var amr []string
	var expires time.Time
	now := s.now()
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		sess, err := q.LockSessionForStepUp(ctx, db.LockSessionForStepUpParams{ID: me.sessionID, Now: now})
		if err != nil {
			return notFoundMeans(err, errSessionEnded)
		}
		amr, expires = sess.Amr, sess.ExpiresAt
		if !slices.Contains(amr, method) {
			amr = append(slices.Clone(amr), method)
		}
		if err := q.StepUpSession(ctx, db.StepUpSessionParams{SessionID: me.sessionID, TokenHash: token.HashOpaque(refresh), Amr: amr, Now: now}); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, me.user.ID, evStepUp, &me.sessionID)
	})
	switch {
	case errors.Is(err, errSessionEnded):
		return api.StepUp401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: sessionEnded(ctx)}, nil
	case err != nil:
		return nil, err
	}
	pair, err := s.issuePair(token.Claims{UserID: me.user.ID, SessionID: me.sessionID, AMR: amr, AuthTime: now}, refresh, expires)
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
