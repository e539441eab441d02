package testkit

// Must returns v and fails the test at the caller's line when err is set:
// a setup step that never got an answer (a transport error, a request that
// could not be built) is reported where it happened, not later as a nil
// response or a confusing status. Go spreads a call's two results only over
// a whole argument list, so t comes after:
//
//	login := testkit.Must(app.Client.LoginWithResponse(ctx, body))(t)
//
// Only the error is checked: a response's status stays the test's to assert.
// Call the result from the test's own goroutine, since it stops the test.
func Must[V any](v V, err error) func(T) V {
	return func(t T) V {
		t.Helper()
		if err != nil {
			t.Fatalf("setup step failed: %v", err)
		}
		return v
	}
}
