package manifests

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

const composeFile = repoRoot + "/deploy/compose.yaml"

// loadCompose loads a Compose file as `docker compose` would, validation on
// (the specification's JSON schema refuses unknown keys), with an empty
// environment so that nothing on this machine leaks in.
func loadCompose(path string) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	return loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs}},
		Environment: types.Mapping{},
	})
}

func TestCompose_LoadsWithTheSpecificationsLoader(t *testing.T) {
	project, err := loadCompose(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"authd", "mailpit", "postgres", "redis"}
	if got := project.ServiceNames(); !slices.Equal(sorted(got), want) {
		t.Fatalf("services %v, want %v", got, want)
	}
	for name, s := range project.Services {
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Disable {
			t.Errorf("service %s has no healthcheck", name)
		}
	}
	authd := project.Services["authd"]
	for _, dep := range []string{"postgres", "redis", "mailpit"} {
		if c := authd.DependsOn[dep].Condition; c != types.ServiceConditionHealthy {
			t.Errorf("authd depends on %s with condition %q, want %q", dep, c, types.ServiceConditionHealthy)
		}
	}
	if got := strings.Join(authd.HealthCheck.Test, " "); got != "CMD authd healthcheck" {
		t.Errorf("authd's healthcheck is %q, want authd's own probe", got)
	}
	if !authd.ReadOnly || !slices.Contains(authd.CapDrop, "ALL") {
		t.Error("authd should run with a read-only root filesystem and no capabilities")
	}
	env := map[string]string{}
	for k, v := range authd.Environment {
		if v != nil {
			env[k] = *v
		}
	}
	// A local stack: production would refuse it (no key file, http URL).
	if env["AUTHD_ENV"] != "development" {
		t.Errorf("AUTHD_ENV = %q, want development", env["AUTHD_ENV"])
	}
	// authd skips STARTTLS only to a loopback relay, hence the shared
	// network namespace.
	if authd.NetworkMode != "service:mailpit" || !strings.HasPrefix(env["AUTHD_SMTP_URL"], "smtp://127.0.0.1:") {
		t.Errorf("authd reaches Mailpit through network_mode %q at %q, want its loopback", authd.NetworkMode, env["AUTHD_SMTP_URL"])
	}
	checkVariables(t, "compose.yaml's authd", mapKeys(authd.Environment))
}

// A misspelt key must fail the check, or the test above proves nothing.
func TestCompose_RefusesAnUnknownKey(t *testing.T) {
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	typo := strings.Replace(string(data), "    healthcheck:\n", "    healtcheck:\n", 1)
	if typo == string(data) {
		t.Fatal("no healthcheck key to misspell")
	}
	path := filepath.Join(t.TempDir(), "compose.yaml")
	if err := os.WriteFile(path, []byte(typo), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadCompose(path); err == nil || !strings.Contains(err.Error(), "healtcheck") {
		t.Fatalf("a misspelt key loaded: %v", err)
	}
}

func mapKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return sorted(keys)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}
