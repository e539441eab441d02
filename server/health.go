package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/authd/authd/gen/api"
)

// readinessTTL is how long one run of the checks answers every probe: a
// flood of probes costs one run a second.
const readinessTTL = time.Second

// readinessTimeout bounds one run of the checks. The run does not stop when
// the probe that started it gives up, or a client hanging up at once would
// make every probe of that second report the database as failing.
const readinessTimeout = 5 * time.Second

// readiness is the outcome of one run of the checks.
type readiness struct {
	checks  api.Checks
	failing []string
}

// readinessCache keeps the last run; the mutex also makes concurrent probes
// wait for the one run in progress instead of starting their own.
type readinessCache struct {
	mu   sync.Mutex
	at   time.Time
	last readiness
}

// GetReadiness implements api.StrictServerInterface. The public answer
// names failing checks only: details such as mail outbox counts would tell
// which addresses have accounts. Development adds the details.
func (s *Server) GetReadiness(ctx context.Context, _ api.GetReadinessRequestObject) (api.GetReadinessResponseObject, error) {
	return s.readinessResponse(ctx, s.cachedReadiness(ctx), s.http.ReadinessDetails), nil
}

// readinessDetails serves the detailed, uncached readiness for the private
// metrics listener.
func (s *Server) readinessDetails() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := &requestInfo{id: rand.Text(), path: r.URL.Path}
		ctx := withInfo(r.Context(), info)
		w.Header().Set("Cache-Control", "no-store")
		if err := s.readinessResponse(ctx, s.checkReadiness(ctx), true).VisitGetReadinessResponse(w); err != nil {
			s.log.WarnContext(ctx, "write readiness", "error", err)
		}
	})
}

func (s *Server) cachedReadiness(ctx context.Context) readiness {
	c := &s.ready
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := s.now(); c.at.IsZero() || now.Sub(c.at) >= readinessTTL || now.Before(c.at) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readinessTimeout)
		defer cancel()
		c.last, c.at = s.checkReadiness(ctx), now
	}
	return c.last
}

func (s *Server) readinessResponse(ctx context.Context, r readiness, details bool) api.GetReadinessResponseObject {
	var checks *api.Checks
	if details {
		checks = &r.checks
	}
	if len(r.failing) == 0 {
		return api.GetReadiness200JSONResponse{Status: api.Ready, Checks: checks}
	}
	return api.GetReadiness503ApplicationProblemPlusJSONResponse{
		Body:    readinessProblemJSON(notReady(ctx, r.failing), r.failing, checks),
		Headers: api.GetReadiness503ResponseHeaders{RetryAfter: ptr(s.breakerRetryAfter())},
	}
}

// checkReadiness runs every check: ready when the database answers, the
// breaker is closed and the schema is current.
func (s *Server) checkReadiness(ctx context.Context) readiness {
	r := readiness{checks: api.Checks{}}
	check := func(name string, err error, okDetail string) {
		if err != nil {
			r.checks[name] = api.Check{Status: api.CheckStatusFail, Detail: ptr(err.Error())}
			r.failing = append(r.failing, name)
			return
		}
		c := api.Check{Status: api.CheckStatusOk}
		if okDetail != "" {
			c.Detail = ptr(okDetail)
		}
		r.checks[name] = c
	}

	open, _ := s.db.BreakerOpen()
	check("circuit_breaker", errIf(open, "open: the database failed repeatedly"), s.db.BreakerState())
	dbErr := s.db.Ping(ctx)
	check("database", errIf(dbErr != nil, "database unreachable"), "")
	if dbErr != nil {
		check("migrations", errIf(true, "not checked: database unreachable"), "")
	} else {
		cur, target, err := s.migrations.Versions(ctx)
		switch {
		case err != nil:
			check("migrations", errIf(true, "could not read the schema version"), "")
		case cur < target:
			check("migrations", fmt.Errorf("behind: version %d of %d", cur, target), "")
		default:
			check("migrations", nil, fmt.Sprintf("version %d of %d", cur, target))
		}
	}

	r.checks["rate_limiter"] = s.limiterCheck(ctx)
	if s.mail.RelayCheck != nil {
		r.checks["mail_relay"] = s.relayCheck(ctx)
	}
	if dbErr == nil {
		r.checks["mail_outbox"] = s.outboxCheck(ctx)
	}
	if c, ok := s.providersCheck(); ok {
		r.checks["oidc_providers"] = c
	}
	return r
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
	shared, isShared := s.limits.Store.(interface {
		Degraded() bool
		Probe(context.Context)
	})
	if isShared && s.limits.Enabled {
		shared.Probe(ctx)
	}
	switch {
	case !s.limits.Enabled:
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
	st, err := s.db.Queries().MailOutboxStats(ctx, s.now())
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

// relayCheck reports whether the SMTP relay answers; mail waits in the
// outbox while it does not, so authd stays ready.
func (s *Server) relayCheck(ctx context.Context) api.Check {
	if err := s.mail.RelayCheck(ctx); err != nil {
		return api.Check{Status: api.CheckStatusDegraded, Detail: ptr("does not answer: " + err.Error() + "; mail waits in the outbox")}
	}
	return api.Check{Status: api.CheckStatusOk, Detail: ptr("answers")}
}
