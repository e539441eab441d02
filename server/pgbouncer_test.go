package server_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/testkit"
)

// Behind PgBouncer in transaction pooling mode (docs/deploy.md): authd with
// the documented DATABASE_URL setting runs every flow, the races and the
// outbox, and migrates, while a few server connections serve many clients.

// pgbouncerPoolSize is the server connections the bouncer keeps per
// database: fewer than one app's pool (10), so sessions are shared.
const pgbouncerPoolSize = 3

// TestPgBouncer_TransactionPoolingBreaksSessionState shows what the setting
// and the migration lock are for, and that the test bouncer really pools by
// transaction: two clients land in one server session.
func TestPgBouncer_TransactionPoolingBreaksSessionState(t *testing.T) {
	t.Parallel()
	pgb := testkit.StartPgBouncer(t, 1)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgb.URL(testkit.DatabaseURL())) // pgx's default: cached prepared statements
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	a, b := testkit.Must(pool.Acquire(ctx))(t), testkit.Must(pool.Acquire(ctx))(t)
	defer a.Release()
	defer b.Release()

	const q = "SELECT count(*) FROM users WHERE email = $1"
	var n int
	if err := a.QueryRow(ctx, q, "nobody@example.com").Scan(&n); err != nil {
		t.Fatal(err)
	}
	err = b.QueryRow(ctx, q, "nobody@example.com").Scan(&n)
	if pgErr := (*pgconn.PgError)(nil); !errors.As(err, &pgErr) || pgErr.Code != "42P05" {
		t.Errorf("the second client's cached statement: %v, want 42P05 duplicate_prepared_statement "+
			"(PgBouncer 1.21+ with max_prepared_statements tracks them: then the setting is optional)", err)
	}

	var first, second bool
	lock := "SELECT pg_try_advisory_lock(424242)"
	if err := a.QueryRow(ctx, lock, pgx.QueryExecModeSimpleProtocol).Scan(&first); err != nil {
		t.Fatal(err)
	}
	if err := b.QueryRow(ctx, lock, pgx.QueryExecModeSimpleProtocol).Scan(&second); err != nil {
		t.Fatal(err)
	}
	if !first || !second {
		t.Errorf("session advisory lock taken by one client: %v, then by another: %v; want both (one server session)", first, second)
	}
	_, _ = a.Exec(ctx, "SELECT pg_advisory_unlock_all()", pgx.QueryExecModeSimpleProtocol)
}

// TestPgBouncer_EveryFlowOnce walks one account through every flow, with
// verification on and mail delivered by the outbox worker to Mailpit, the
// app's queries and the worker's all going through the bouncer.
func TestPgBouncer_EveryFlowOnce(t *testing.T) {
	t.Parallel()
	pgb := testkit.StartPgBouncer(t, pgbouncerPoolSize)
	mp := testkit.StartMailpit(t)
	app := testkit.NewApp(t, testkit.FastHashing, pgb.IsolatedDatabase(t), requireVerified)
	app.StartMailWorker(t, mp.SMTPURL())
	ctx := context.Background()
	want := func(what string, got, want int, body []byte) {
		t.Helper()
		if got != want {
			t.Fatalf("%s: %d, want %d: %s", what, got, want, body)
		}
	}
	bearer := func(p client.TokenPair) client.RequestEditorFn { return testkit.Bearer(p.AccessToken) }

	email := testkit.UniqueEmail()
	reg := testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: testkit.Password}))(t)
	want("register", reg.StatusCode(), http.StatusAccepted, reg.Body)
	verify := testkit.Must(app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{
		Token: testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text), Password: testkit.Password}))(t)
	want("verify", verify.StatusCode(), http.StatusOK, verify.Body)

	pair := app.Login(t, email, testkit.Password)
	other := app.Login(t, email, testkit.Password)
	me := testkit.Must(app.Client.GetMeWithResponse(ctx, bearer(pair)))(t)
	want("GET /users/me", me.StatusCode(), http.StatusOK, me.Body)
	next := refresh(t, app, pair.RefreshToken)
	want("refresh", next.StatusCode(), http.StatusOK, next.Body)
	pair = *next.JSON200

	sessions := testkit.Must(app.Client.ListSessionsWithResponse(ctx, bearer(pair)))(t)
	want("sessions", sessions.StatusCode(), http.StatusOK, sessions.Body)
	var otherID uuid.UUID
	for _, s := range sessions.JSON200.Sessions {
		if !s.Current {
			otherID = s.Id
		}
	}
	revoke := testkit.Must(app.Client.RevokeSessionWithResponse(ctx, otherID, bearer(pair)))(t)
	want("revoke the other session", revoke.StatusCode(), http.StatusNoContent, revoke.Body)
	want("the revoked session's token", meStatus(t, app, other.AccessToken), http.StatusUnauthorized, nil)

	changed := "Changed-Horse-5"
	put := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Password: &changed, CurrentPassword: testkit.Password}, bearer(pair)))(t)
	want("change the password", put.StatusCode(), http.StatusOK, put.Body)
	pair = app.Login(t, email, changed)

	newEmail := testkit.UniqueEmail()
	put = testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &newEmail, CurrentPassword: changed}, bearer(pair)))(t)
	want("ask for an email change", put.StatusCode(), http.StatusOK, put.Body)
	confirm := testkit.Must(app.Client.ConfirmEmailChangeWithResponse(ctx, client.TokenRequest{
		Token: testkit.LinkToken(t, mp.WaitForMail(newEmail, 1)[0].Text)}, bearer(pair)))(t)
	want("confirm the email change", confirm.StatusCode(), http.StatusOK, confirm.Body)

	forgot := testkit.Must(app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: newEmail}))(t)
	want("forgot", forgot.StatusCode(), http.StatusAccepted, forgot.Body)
	reset := testkit.Must(app.Client.ResetPasswordWithResponse(ctx, client.ResetPasswordRequest{
		Token: testkit.LinkToken(t, mp.WaitForMail(newEmail, 2)[1].Text), NewPassword: "Brand-New-Pass9"}))(t) // after the change's
	want("reset", reset.StatusCode(), http.StatusNoContent, reset.Body)
	pair = app.Login(t, newEmail, "Brand-New-Pass9")

	got := kinds(events(t, app, pair.AccessToken, nil))
	for _, k := range []string{"registered", "email_verified", "login_succeeded", "session_revoked",
		"password_changed", "email_changed", "password_reset"} {
		if !slices.Contains(got, k) {
			t.Errorf("events %v lack %s", got, k)
		}
	}
	out := testkit.Must(app.Client.LogoutWithResponse(ctx, nil, bearer(pair)))(t)
	want("logout", out.StatusCode(), http.StatusNoContent, out.Body)
	want("a logged-out token", meStatus(t, app, pair.AccessToken), http.StatusUnauthorized, nil)

	pair = app.Login(t, newEmail, "Brand-New-Pass9")
	del := deleteMe(t, app, pair.AccessToken, "Brand-New-Pass9")
	want("DELETE /users/me", del.StatusCode(), http.StatusNoContent, del.Body)
	login := testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: newEmail, Password: "Brand-New-Pass9"}))(t)
	want("login after delete", login.StatusCode(), http.StatusUnauthorized, login.Body)
	want("readiness", readinessStatus(t, app), http.StatusOK, nil)
}

func TestPgBouncer_ConcurrentRefreshesKeepOneChain(t *testing.T) {
	t.Parallel()
	raceRefreshes(t, instances(t, testkit.StartPgBouncer(t, pgbouncerPoolSize).Database(t))...)
}

func TestPgBouncer_ConcurrentRegistrationsOfOneEmailCreateOneUser(t *testing.T) {
	t.Parallel()
	pgb := testkit.StartPgBouncer(t, pgbouncerPoolSize)
	raceRegistrations(t, instances(t, testkit.NoLimits, pgb.Database(t))...) // the per-address limit would refuse most
}

// TestPgBouncer_InstancesMigrateAtOnce: instances starting together on an
// empty database migrate it through the bouncer; one applies every
// migration, the others wait for it and find nothing to do, and no lock is
// left behind. With goose's session advisory lock the holder could not
// release it from another server session ("failed to unlock session"
// after a minute), and an instance landing in the holder's session entered.
func TestPgBouncer_InstancesMigrateAtOnce(t *testing.T) {
	t.Parallel()
	pgb := testkit.StartPgBouncer(t, 2)
	ctx := context.Background()
	direct, drop, err := testkit.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)

	const instances = 4
	applied := make([]int, instances)
	var migrators []*database.Migrator
	for range instances {
		pool := testkit.Must(database.Open(ctx, pgb.Pooled(direct), 4, nil))(t)
		t.Cleanup(pool.Close)
		m := testkit.Must(database.NewMigrator(pool))(t)
		t.Cleanup(func() { _ = m.Close() })
		migrators = append(migrators, m)
	}
	var wg sync.WaitGroup
	for i, m := range migrators {
		wg.Go(func() {
			n, err := m.Up(ctx)
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
			applied[i] = n
		})
	}
	wg.Wait()
	current, target, err := migrators[0].Versions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(applied)
	if current != target || applied[instances-1] == 0 || slices.Max(applied[:instances-1]) != 0 {
		t.Fatalf("version %d of %d; migrations applied per instance %v, want all by one", current, target, applied)
	}

	// Down and up again, through the pooler too.
	if err := migrators[1].Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := migrators[2].Up(ctx); err != nil || n != applied[instances-1] {
		t.Fatalf("up after reset: %d, %v", n, err)
	}
	directPool := testkit.Must(pgxpool.New(ctx, direct))(t)
	t.Cleanup(directPool.Close)
	var held int
	if err := directPool.QueryRow(ctx, "SELECT count(*) FROM goose_lock WHERE locked").Scan(&held); err != nil || held != 0 {
		t.Errorf("migration locks held after every instance finished: %d (%v)", held, err)
	}
}
