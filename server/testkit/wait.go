package testkit

import "time"

// WaitUntil asks done every interval until it reports true, and fails the
// test with what() once within has passed. It is for state outside the test's
// reach (PostgreSQL's lock table, Mailpit, a server starting up, readiness),
// which offers nothing to wait on; anything in process should signal instead.
func WaitUntil(t T, within, every time.Duration, done func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for !done() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		<-tick.C
	}
}
