package config

import (
	"strings"
	"testing"
)

func TestLoad_DatabaseURLSaysWhatIsWrong(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ value, want string }{
		{"postgres://authd:s3cret-pw@db:bad/authd", "invalid port"},
		{"postgres://authd:s3cret-pw@db:99999/authd", "invalid port"},
		{"postgres://authd:s3%zzcret-pw@db/authd", "%25"},
		{"postgres://authd:s3cret-pw@db/authd?sslmode=sometimes", "sslmode is invalid"},
		{"host=db user=authd password=s3cret-pw sslmode=sometimes", "sslmode is invalid"},
		{"mysql://authd:s3cret-pw@db/authd", `"mysql://" URL`},
		{"s3cret-pw", "key=value"},
	} {
		_, err := Load(dev(map[string]string{"DATABASE_URL": tc.value}))
		line := onlyLineFor(t, err, "DATABASE_URL")
		if !strings.Contains(line, tc.want) {
			t.Errorf("%s: %q does not say %q", tc.value, line, tc.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the password is echoed:\n%v", tc.value, err)
		}
	}
}

func TestLoad_DatabaseURLTakesWhatPgxTakes(t *testing.T) {
	t.Parallel()
	for _, v := range []string{
		"postgres://authd:pw@db:5432/authd?sslmode=require",
		"postgresql://authd@db/authd",
		"host=db port=5432 user=authd password=pw dbname=authd sslmode=disable",
	} {
		if _, err := Load(dev(map[string]string{"DATABASE_URL": v})); err != nil {
			t.Errorf("%s refused: %v", v, err)
		}
	}
}
