package testkit

import (
	"time"

	"github.com/authd/authd/server"
)

// StepUpMaxAge sets how recent an authentication the sensitive operations
// need, for tests about something else that move the clock past the
// default while one session makes such changes.
func StepUpMaxAge(d time.Duration) Option {
	return func(deps *server.Deps) { deps.MFA.StepUpMaxAge = d }
}
