package server

import (
	"errors"

	"context"
	"fmt"
	"github.com/authd/authd/gen/api"

	"github.com/getkin/kin-openapi/openapi3"
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

// StepUp implements api.StrictServerInterface. TODO(feat/stepup).
func (s *Server) StepUp(ctx context.Context, req api.StepUpRequestObject) (api.StepUpResponseObject, error) {
	return nil, errors.New("not implemented")
}
