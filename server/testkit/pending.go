package testkit

import "context"

// PendingRegistrations counts the stored pending registrations of an
// address, live or expired, shadows included.
func (a *App) PendingRegistrations(t T, email string) int {
	t.Helper()
	var n int
	err := a.Deps.DB.Pool().QueryRow(context.Background(), "SELECT count(*) FROM pending_registrations WHERE email = $1", email).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
