package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/authd/authd/gen/api"
)

// GetReadiness implements api.StrictServerInterface: ready when the database
// answers, the breaker is closed and the schema is current.
func (s *Server) GetReadiness(ctx context.Context, _ api.GetReadinessRequestObject) (api.GetReadinessResponseObject, error) {
	checks := api.Checks{}
	var failing []string
	check := func(name string, err error, okDetail string) {
		if err != nil {
			checks[name] = api.Check{Status: api.CheckStatusFail, Detail: ptr(err.Error())}
			failing = append(failing, name)
			return
		}
		c := api.Check{Status: api.CheckStatusOk}
		if okDetail != "" {
			c.Detail = ptr(okDetail)
		}
		checks[name] = c
	}

	open, _ := s.DB.BreakerOpen()
	check("circuit_breaker", errIf(open, "open: the database failed repeatedly"), s.DB.BreakerState())
	dbErr := s.DB.Ping(ctx)
	check("database", errIf(dbErr != nil, "database unreachable"), "")
	if dbErr != nil {
		check("migrations", errIf(true, "not checked: database unreachable"), "")
	} else {
		cur, target, err := s.Migrations.Versions(ctx)
		switch {
		case err != nil:
			check("migrations", errIf(true, "could not read the schema version"), "")
		case cur < target:
			check("migrations", fmt.Errorf("behind: version %d of %d", cur, target), "")
		default:
			check("migrations", nil, fmt.Sprintf("version %d of %d", cur, target))
		}
	}

	checks["rate_limiter"] = s.limiterCheck(ctx)
	if dbErr == nil {
		checks["mail_outbox"] = s.outboxCheck(ctx)
	}

	if len(failing) == 0 {
		return api.GetReadiness200JSONResponse{Status: api.Ready, Checks: checks}, nil
	}
	p := problem(ctx, kindNotReady, "failing checks: "+strings.Join(failing, ", "))
	return api.GetReadiness503ApplicationProblemPlusJSONResponse{
		Body: api.ReadinessProblem{
			Type: p.Type, Title: p.Title, Status: p.Status, Detail: p.Detail,
			RequestId: p.RequestId, Instance: ptr("/readiness"), Checks: checks,
		},
		Headers: api.GetReadiness503ResponseHeaders{RetryAfter: ptr(s.breakerRetryAfter())},
	}, nil
}

func errIf(cond bool, msg string) error {
	if cond {
		return fmt.Errorf("%s", msg)
	}
	return nil
}

// limiterCheck reports where rate limits are kept; a Redis outage degrades
// them to per-instance limits but does not make authd unready.
func (s *Server) limiterCheck(ctx context.Context) api.Check {
	shared, isShared := s.Limits.Store.(interface {
		Degraded() bool
		Probe(context.Context)
	})
	if isShared && s.Limits.Enabled {
		shared.Probe(ctx)
	}
	switch {
	case !s.Limits.Enabled:
		return api.Check{Status: api.CheckStatusOk, Detail: ptr("disabled")}
	case !isShared:
		return api.Check{Status: api.CheckStatusOk, Detail: ptr("in memory, per instance")}
	case shared.Degraded():
		return api.Check{Status: api.CheckStatusDegraded, Detail: ptr("Redis unreachable: limits enforced per instance")}
	default:
		return api.Check{Status: api.CheckStatusOk, Detail: ptr("shared in Redis")}
	}
}

// outboxCheck counts mail waiting and mail given up on; dead mail degrades
// the check (an operator should look) without making authd unready.
func (s *Server) outboxCheck(ctx context.Context) api.Check {
	st, err := s.DB.Queries().MailOutboxStats(ctx, s.Now())
	if err != nil {
		return api.Check{Status: api.CheckStatusDegraded, Detail: ptr("could not read the outbox")}
	}
	detail := fmt.Sprintf("%d pending, %d dead", st.Pending, st.Dead)
	if st.Pending > 0 {
		detail += fmt.Sprintf(", oldest pending %s", time.Duration(st.OldestPendingSeconds)*time.Second)
	}
	// Dead mail, or mail stuck for over an hour, wants an operator.
	if st.Dead > 0 || st.OldestPendingSeconds > 3600 {
		return api.Check{Status: api.CheckStatusDegraded, Detail: &detail}
	}
	return api.Check{Status: api.CheckStatusOk, Detail: &detail}
}
