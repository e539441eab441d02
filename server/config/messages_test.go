package config

import (
	"strings"
	"testing"
)

// lines is err split into its one-line problems.
func lines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	return strings.Split(err.Error(), "\n")
}

// onlyLineFor is the single line of err naming name; more or fewer fail.
func onlyLineFor(t *testing.T, err error, name string) string {
	t.Helper()
	var found []string
	for _, l := range lines(t, err) {
		if strings.HasPrefix(l, name+":") {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one line for %s, got %d:\n%v", name, len(found), err)
	}
	return found[0]
}

func TestLoad_ParseErrorsNameTheVariableTheValueAndTheForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value, allowed string }{
		{"AUTHD_ACCESS_TOKEN_TTL", "15", "duration with a unit"},
		{"AUTHD_MAX_SESSIONS_PER_USER", "ten", "whole number"},
		{"AUTHD_ARGON2_THREADS", "300", "from 0 to 255"},
		{"AUTHD_PUBLIC_METRICS", "yes please", "true or false"},
		{"AUTHD_RATE_LIMIT_LOGIN", "10", "10/1m"},
	} {
		_, err := Load(dev(map[string]string{tc.name: tc.value}))
		line := onlyLineFor(t, err, tc.name)
		if !strings.Contains(line, `"`+tc.value+`"`) || !strings.Contains(line, tc.allowed) {
			t.Errorf("%s=%s: %q does not show the value and %q", tc.name, tc.value, line, tc.allowed)
		}
		if strings.Contains(err.Error(), "parse error on field") || strings.Contains(err.Error(), "got 0") {
			t.Errorf("%s=%s: Go field names or a zero value in:\n%v", tc.name, tc.value, err)
		}
	}
}

// TestLoad_ABadValueIsOneProblem: the field that did not parse keeps its
// default, so no range or cross check reports a zero nobody set.
func TestLoad_ABadValueIsOneProblem(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"AUTHD_ACCESS_TOKEN_TTL", "AUTHD_ARGON2_TIME", "AUTHD_REQUEST_TIMEOUT", "AUTHD_MAIL_RETRY_BASE", "AUTHD_DB_MAX_CONNS"} {
		_, err := Load(dev(map[string]string{name: "bogus"}))
		if got := lines(t, err); len(got) != 1 {
			t.Errorf("%s=bogus: want one line, got %d:\n%v", name, len(got), err)
		}
	}
}

func TestLoad_RangeErrorsNameTheVariableTheValueAndTheRange(t *testing.T) {
	t.Parallel()
	_, err := Load(dev(map[string]string{"AUTHD_ACCESS_TOKEN_TTL": "25h"}))
	line := onlyLineFor(t, err, "AUTHD_ACCESS_TOKEN_TTL")
	if !strings.Contains(line, "25h") || !strings.Contains(line, "between 1m and 24h") {
		t.Errorf("range error %q", line)
	}
}

func TestRedact_HidesPasswords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value string }{
		{"DATABASE_URL", "postgres://authd:s3cret-pw@db:5432/authd"},
		{"DATABASE_URL", "postgres://authd@db/authd?password=s3cret-pw"},
		{"DATABASE_URL", "host=db user=authd password=s3cret-pw dbname=authd"},
		{"DATABASE_URL", "host=db password='s3cret-pw with space' dbname=authd"},
		{"DATABASE_URL", "postgres://authd:s3cret-pw@db:bad%zz/authd"},
		{"AUTHD_SMTP_URL", "smtp://mailer:s3cret-pw@mail.example.com:587"},
		{"REDIS_URL", "redis://:s3cret-pw@cache:6379/0"},
	} {
		if got := displayValue(tc.name, tc.value); strings.Contains(got, "s3cret") {
			t.Errorf("%s: %q shows the password", tc.name, got)
		}
	}
	if got := displayValue("AUTHD_ADDR", ":9090"); got != ":9090" {
		t.Errorf("a non-secret is shown as %q", got)
	}
}

// TestLoad_EachSettingOfAGroupIsNamed: the grouped settings (argon2, mail
// retries, backoff, breaker) report the one variable at fault with its value.
func TestLoad_EachSettingOfAGroupIsNamed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value, want string }{
		{"AUTHD_ARGON2_TIME", "99", "got 99"},
		{"AUTHD_MAIL_RETRY_MAX", "1s", "got 1s"},
		{"AUTHD_LOGIN_BACKOFF_AFTER", "0", "got 0"},
		{"AUTHD_BREAKER_OPEN_FOR", "-1s", "got -1s"},
		{"AUTHD_HASH_MAX_WAIT", "1m", "got 1m0s"},
		{"AUTHD_DB_MAX_CONNS", "0", "got 0"},
		{"AUTHD_MAIL_FROM", "nobody", `got "nobody"`},
	} {
		_, err := Load(dev(map[string]string{tc.name: tc.value}))
		if line := onlyLineFor(t, err, tc.name); !strings.Contains(line, tc.want) {
			t.Errorf("%s=%s: %q does not say %q", tc.name, tc.value, line, tc.want)
		}
	}
}

// TestLoad_SecretURLsAreNeverEchoed: the URLs that carry passwords are shown
// masked in their errors.
func TestLoad_SecretURLsAreNeverEchoed(t *testing.T) {
	t.Parallel()
	_, err := Load(dev(map[string]string{
		"AUTHD_SMTP_URL": "http://mailer:s3cret-pw@mail.example.com",
		"REDIS_URL":      "memcache://:s3cret-pw@cache:6379",
	}))
	for _, name := range []string{"AUTHD_SMTP_URL", "REDIS_URL"} {
		onlyLineFor(t, err, name)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a password is echoed:\n%v", err)
	}
}

// TestLoad_NoSecretInAnyForm: the forms an attacker review found echoing a
// password (a library error quoting the URL, a password with an unencoded /
// or #, an encoded query key, keyword/value text with :// or a backslash).
func TestLoad_NoSecretInAnyForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value string }{
		{"REDIS_URL", "redis://u:S3CRET@db:bad/0"},
		{"REDIS_URL", "redis://u:S3%zzCRET@db:6379/0"},
		{"DATABASE_URL", "postgres://authd:12345/Zz9S3CRET@db.internal/authd"},
		{"DATABASE_URL", "postgres://authd:2024#S3CRET@db/authd?sslmode=bogus"},
		{"DATABASE_URL", "postgres://u@db/x?%70assword=S3CRET&sslmode=bogus"},
		{"DATABASE_URL", "host=db user=u password=S3CRET application_name=http://x dbname=x sslmode=bogus"},
		{"DATABASE_URL", "host=db user=u password=ab://S3CRET sslmode=bogus"},
		{"DATABASE_URL", `host=db password=ab\ S3CRET sslmode=bogus`},
		{"AUTHD_SMTP_URL", "smtp://mailer:S3CRET@mail.example.com:bad"},
	} {
		_, err := Load(dev(map[string]string{tc.name: tc.value}))
		if err == nil {
			t.Errorf("%s=%q: accepted", tc.name, tc.value)
			continue
		}
		onlyLineFor(t, err, tc.name)
		if strings.Contains(err.Error(), "S3CRET") || strings.Contains(err.Error(), "S3%zz") {
			t.Errorf("%s: the password is echoed:\n%v", tc.name, err)
		}
	}
}
