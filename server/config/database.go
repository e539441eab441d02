package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// databaseForms is what DATABASE_URL accepts, as pgx does.
const databaseForms = `a postgres:// URL or key=value settings like "host=db user=authd dbname=authd"`

// validateDatabaseURL checks DATABASE_URL as the pool will read it (sslmode,
// its CA file and pool_* settings included), saying what is wrong and never
// showing the password.
func validateDatabaseURL(raw string) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("DATABASE_URL: %s", fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(raw) == "" {
		return fail("must be set to %s", databaseForms)
	}
	if scheme := urlScheme.FindString(raw); scheme != "" && scheme != "postgres://" && scheme != "postgresql://" {
		return fail("must be %s, got a %q URL", databaseForms, scheme)
	}
	if UserPartSpills(raw) {
		return fail("the user part (before the last @) holds a / ? or # that is not percent-encoded: write them as %%2F %%3F %%23 (allowed: %s)", databaseForms)
	}
	_, err := pgxpool.ParseConfig(raw)
	if err == nil {
		return nil
	}
	problem := scrub(databaseProblem(err), raw)
	if urlScheme.FindString(raw) == "" {
		// Where a password would start cannot be told: show nothing of it.
		return fail("%s (allowed: %s)", problem, databaseForms)
	}
	return fail("%s in %q (allowed: %s)", problem, redact(raw), databaseForms)
}

// databaseProblem is pgx's reason without the connection string it quotes
// (its masking is best effort; ours is shown instead).
func databaseProblem(err error) string {
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return "does not parse"
	}
	reason := pe.Error()
	if i := strings.LastIndex(reason, "`: "); i >= 0 {
		reason = reason[i+len("`: "):]
	}
	if strings.Contains(reason, "sslmode is invalid") {
		reason += " (allowed: disable, allow, prefer, require, verify-ca, verify-full)"
	}
	if strings.Contains(reason, "percent-encoded") {
		reason += " (write a literal % as %25)"
	}
	return reason
}
