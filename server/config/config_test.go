package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/joho/godotenv"

	"github.com/authd/authd/server/datakeys"
	"github.com/authd/authd/server/token"
)

// dev is env with development asked for, as make run, the tests and
// .env.example do.
func dev(env map[string]string) map[string]string {
	out := map[string]string{"AUTHD_ENV": EnvDevelopment}
	for k, v := range env {
		out[k] = v
	}
	return out
}

func TestLoad_DefaultsAreValidForDevelopment(t *testing.T) {
	t.Parallel()
	cfg, err := Load(dev(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.Env != EnvDevelopment || cfg.AccessTokenTTL != 15*time.Minute ||
		cfg.SessionTTL != 30*24*time.Hour || cfg.RefreshRetryWindow != 5*time.Minute || !cfg.AutoMigrate ||
		cfg.PasswordHash != "argon2id" || cfg.Argon2MemoryKiB != 19456 || cfg.Argon2Time != 2 || cfg.BcryptCost != 12 ||
		cfg.DatabaseURL != "postgres://postgres@127.0.0.1:5432/authd?sslmode=disable" || cfg.MaxSessionsPerUser != 100 {
		t.Errorf("defaults = %+v", cfg)
	}
}

func TestLoad_ReportsEveryErrorAtOnce(t *testing.T) {
	t.Parallel()
	_, err := Load(map[string]string{
		"AUTHD_ENV":              "staging",
		"AUTHD_ACCESS_TOKEN_TTL": "soon",
		"AUTHD_PASSWORD_HASH":    "md5",
		"AUTHD_JWT_ALGORITHM":    "HS256",
		"AUTHD_CORS_ORIGINS":     "not a url",
		"AUTHD_LOG_LEVEL":        "loud",
		"DATABASE_URL":           "mysql://x",
	})
	if err == nil {
		t.Fatal("invalid configuration accepted")
	}
	for _, name := range []string{"AUTHD_ENV", "AUTHD_ACCESS_TOKEN_TTL", "AUTHD_PASSWORD_HASH", "AUTHD_JWT_ALGORITHM", "AUTHD_CORS_ORIGINS", "AUTHD_LOG_LEVEL", "DATABASE_URL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

// TestLoad_ProductionIsTheDefault: without AUTHD_ENV, authd refuses to
// start without keys, SMTP and an https public URL, naming all three.
func TestLoad_ProductionIsTheDefault(t *testing.T) {
	t.Parallel()
	cfg, err := Load(map[string]string{})
	if err == nil || cfg.Env != EnvProduction {
		t.Fatalf("no AUTHD_ENV: env %q, err %v; want production refusing the defaults", cfg.Env, err)
	}
	for _, name := range []string{"AUTHD_JWT_KEYS_FILE", "AUTHD_DATA_KEYS_FILE", "AUTHD_SMTP_URL", "AUTHD_PUBLIC_URL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
}

// keysFile writes a key file as `authd keys generate` does, with perm.
func keysFile(t *testing.T, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.json")
	set, err := token.GenerateSet("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, set, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// dataKeysFile writes a data key set as `authd datakeys generate` does, with perm.
func dataKeysFile(t *testing.T, perm os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "datakeys.json")
	set, err := datakeys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, set, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path
}

// production is a valid production environment plus env.
func production(t *testing.T, env map[string]string) map[string]string {
	out := map[string]string{"AUTHD_ENV": "production", "AUTHD_JWT_KEYS_FILE": keysFile(t, 0o600), "AUTHD_DATA_KEYS_FILE": dataKeysFile(t, 0o600), "AUTHD_SMTP_URL": "smtp://mail.example.com:587", "AUTHD_PUBLIC_URL": "https://auth.example.com"}
	for k, v := range env {
		out[k] = v
	}
	return out
}

func TestLoad_ProductionRefusesAKeysFileOthersCanRead(t *testing.T) {
	t.Parallel()
	for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		_, err := Load(production(t, map[string]string{"AUTHD_JWT_KEYS_FILE": keysFile(t, perm)}))
		if err == nil || !strings.Contains(err.Error(), "AUTHD_JWT_KEYS_FILE") || !strings.Contains(err.Error(), "group or others") {
			t.Errorf("mode %04o in production: err = %v, want a refusal", perm, err)
		}
	}
	for _, perm := range []os.FileMode{0o600, 0o400} {
		if _, err := Load(production(t, map[string]string{"AUTHD_JWT_KEYS_FILE": keysFile(t, perm)})); err != nil {
			t.Errorf("mode %04o in production: %v", perm, err)
		}
	}
	_, err := Load(production(t, map[string]string{"AUTHD_JWT_KEYS_FILE": filepath.Join(t.TempDir(), "missing.json")}))
	if err == nil || !strings.Contains(err.Error(), "AUTHD_JWT_KEYS_FILE") {
		t.Errorf("missing key file in production: err = %v", err)
	}
	if _, err := Load(dev(map[string]string{"AUTHD_JWT_KEYS_FILE": keysFile(t, 0o644)})); err != nil {
		t.Errorf("development with a 0644 key file: %v", err)
	}
}

func TestLoad_ProductionRefusesADataKeysFileOthersCanRead(t *testing.T) {
	t.Parallel()
	for _, perm := range []os.FileMode{0o644, 0o640, 0o604, 0o620} {
		_, err := Load(production(t, map[string]string{"AUTHD_DATA_KEYS_FILE": dataKeysFile(t, perm)}))
		if err == nil || !strings.Contains(err.Error(), "AUTHD_DATA_KEYS_FILE") || !strings.Contains(err.Error(), "group or others") {
			t.Errorf("mode %04o in production: err = %v, want a refusal", perm, err)
		}
	}
	for _, perm := range []os.FileMode{0o600, 0o400} {
		if _, err := Load(production(t, map[string]string{"AUTHD_DATA_KEYS_FILE": dataKeysFile(t, perm)})); err != nil {
			t.Errorf("mode %04o in production: %v", perm, err)
		}
	}
	_, err := Load(production(t, map[string]string{"AUTHD_DATA_KEYS_FILE": ""}))
	if err == nil || !strings.Contains(err.Error(), "AUTHD_DATA_KEYS_FILE: is required in production") || !strings.Contains(err.Error(), "authd datakeys generate") {
		t.Errorf("no data key file in production: err = %v", err)
	}
	if _, err := Load(dev(map[string]string{"AUTHD_DATA_KEYS_FILE": dataKeysFile(t, 0o644)})); err != nil {
		t.Errorf("development with a 0644 data key file: %v", err)
	}
	if _, err := Load(dev(nil)); err != nil {
		t.Errorf("development without a data key file: %v", err)
	}
}

func TestLoad_LinksAreHTTPSInProduction(t *testing.T) {
	t.Parallel()
	for _, tmpl := range []string{"http://app.example.com/{action}?token={token}", "{public_url}/{action}?token={token}&next=x"} {
		env := production(t, map[string]string{"AUTHD_MAIL_LINK_TEMPLATE": tmpl})
		if tmpl[0] == '{' {
			env["AUTHD_PUBLIC_URL"] = "http://auth.example.com"
		}
		if _, err := Load(env); err == nil || !strings.Contains(err.Error(), "AUTHD_MAIL_LINK_TEMPLATE") {
			t.Errorf("%q in production: err = %v, want AUTHD_MAIL_LINK_TEMPLATE refused", tmpl, err)
		}
	}
	if _, err := Load(production(t, map[string]string{"AUTHD_MAIL_LINK_TEMPLATE": "https://app.example.com/{action}#token={token}"})); err != nil {
		t.Errorf("an https template in production: %v", err)
	}
	if _, err := Load(dev(map[string]string{"AUTHD_MAIL_LINK_TEMPLATE": "http://localhost:3000/{action}?token={token}"})); err != nil {
		t.Errorf("an http template in development: %v", err)
	}
	for _, tmpl := range []string{"javascript:alert({token})", "/{action}?token={token}"} {
		if _, err := Load(dev(map[string]string{"AUTHD_MAIL_LINK_TEMPLATE": tmpl})); err == nil {
			t.Errorf("%q: accepted, want an absolute http(s) URL", tmpl)
		}
	}
}

func TestLoad_PublicMetricsOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]bool{"": false, "true": true, "false": false} {
		m := dev(nil)
		if env != "" {
			m["AUTHD_PUBLIC_METRICS"] = env
		}
		cfg, err := Load(m)
		if err != nil || cfg.PublicMetrics != want {
			t.Errorf("AUTHD_PUBLIC_METRICS=%q in development: %v, %v; want %v", env, cfg.PublicMetrics, err, want)
		}
	}
}

func TestLoad_ProductionRequiresKeysAndSMTP(t *testing.T) {
	t.Parallel()
	_, err := Load(map[string]string{"AUTHD_ENV": "production"})
	if err == nil || !strings.Contains(err.Error(), "AUTHD_JWT_KEYS_FILE") || !strings.Contains(err.Error(), "AUTHD_SMTP_URL") {
		t.Fatalf("err = %v, want AUTHD_JWT_KEYS_FILE and AUTHD_SMTP_URL required", err)
	}
	if _, err := Load(production(t, nil)); err != nil {
		t.Errorf("production with keys: %v", err)
	}
}

func TestLoad_RangesAreChecked(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"session shorter than access": {"AUTHD_SESSION_TTL": "1m", "AUTHD_ACCESS_TOKEN_TTL": "15m"},
		"retry window too long":       {"AUTHD_REFRESH_RETRY_WINDOW": "2h"},
		"negative retry window":       {"AUTHD_REFRESH_RETRY_WINDOW": "-1s"},
		"the old grace variable":      {"AUTHD_REFRESH_GRACE": "10s"},
		"weak bcrypt":                 {"AUTHD_PASSWORD_HASH": "bcrypt", "AUTHD_BCRYPT_COST": "4"},
		"tiny argon memory":           {"AUTHD_ARGON2_MEMORY_KIB": "64"},
		"query timeout over request":  {"AUTHD_DB_QUERY_TIMEOUT": "20s", "AUTHD_REQUEST_TIMEOUT": "10s"},
		"no pool":                     {"AUTHD_DB_MAX_CONNS": "0"},
		"breaker never opens":         {"AUTHD_BREAKER_FAILURES": "0"},
		"empty issuer":                {"AUTHD_JWT_ISSUER": " "},
		"no session allowed":          {"AUTHD_MAX_SESSIONS_PER_USER": "0"},
		"sessions beyond the list":    {"AUTHD_MAX_SESSIONS_PER_USER": "101"},
		"sub-millisecond backoff":     {"AUTHD_LOGIN_BACKOFF_BASE": "100us"},
	} {
		if _, err := Load(dev(env)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoad_ParsesListsAndLevels(t *testing.T) {
	t.Parallel()
	cfg, err := Load(dev(map[string]string{"AUTHD_CORS_ORIGINS": "https://a.example,https://b.example", "AUTHD_LOG_LEVEL": "debug"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.CORSOrigins) != 2 || cfg.CORSOrigins[1] != "https://b.example" || cfg.SlogLevel().String() != "DEBUG" {
		t.Errorf("cfg = %+v", cfg)
	}
}

// TestEnvExample_DocumentsEveryVariableWithItsDefault keeps .env.example and
// the Config struct from drifting apart.
func TestEnvExample_DocumentsEveryVariableWithItsDefault(t *testing.T) {
	t.Parallel()
	example, err := godotenv.Read("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(Config{})
	for i := range typ.NumField() {
		name := typ.Field(i).Tag.Get("env")
		if name == "-" {
			continue // read by Load from variables named after a provider
		}
		if _, ok := example[name]; !ok {
			t.Errorf(".env.example lacks %s", name)
		}
	}
	fromExample, err := Load(example)
	if err != nil {
		t.Fatal(err)
	}
	// The example asks for development; everything else is the default.
	if fromExample.Env != EnvDevelopment {
		t.Errorf(".env.example sets AUTHD_ENV=%s, want development (production is the default)", fromExample.Env)
	}
	defaults, _ := Load(dev(nil))
	if !reflect.DeepEqual(fromExample, defaults) {
		t.Errorf(".env.example differs from the defaults:\n%+v\n%+v", fromExample, defaults)
	}
}

// TestConfig_FieldsAreNamedAfterTheirVariables keeps each field's name from
// drifting away from the variable that sets it: the name is the variable in
// camel case, without the AUTHD_ prefix.
func TestConfig_FieldsAreNamedAfterTheirVariables(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeOf(Config{})
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Tag.Get("env") == "-" {
			continue // read by Load from variables named after a provider
		}
		variable := strings.ReplaceAll(strings.TrimPrefix(f.Tag.Get("env"), "AUTHD_"), "_", "")
		if !strings.EqualFold(f.Name, variable) {
			t.Errorf("field %s is set by %s: name it after its variable", f.Name, f.Tag.Get("env"))
		}
	}
}

// TestLoad_ReadsOnlyTheGivenEnvironment: tests and tools pass their own
// values, and the process environment must not leak into them.
func TestLoad_ReadsOnlyTheGivenEnvironment(t *testing.T) {
	t.Setenv("AUTHD_ADDR", ":9999")
	for _, environ := range []map[string]string{nil, {}, dev(nil)} {
		cfg, _ := Load(environ)
		if cfg.Addr != ":8080" {
			t.Errorf("Load(%v) took AUTHD_ADDR=%s from the process environment", environ, cfg.Addr)
		}
	}
}

func TestConfig_TracingOnlyWithAnExporter(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]bool{
		"":                                     false,
		"OTEL_TRACES_EXPORTER=otlp":            true,
		"OTEL_EXPORTER_OTLP_ENDPOINT=http://c": true,
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://c": true,
		"OTEL_TRACES_EXPORTER=none":                   false,
	} {
		m := dev(nil)
		if k, v, ok := strings.Cut(env, "="); ok {
			m[k] = v
		}
		cfg, err := Load(m)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.TracingEnabled() != want {
			t.Errorf("%q: tracing %v, want %v", env, cfg.TracingEnabled(), want)
		}
	}
	if _, err := Load(dev(map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"})); err == nil {
		t.Error("an unsupported exporter was accepted")
	}
}

// TestLoad_ProductionRefusesSwitchingOffTheGuards: limits off also turn off
// the login backoff, and trusting every peer lets any client name its own
// IP for every per-client budget.
func TestLoad_ProductionRefusesSwitchingOffTheGuards(t *testing.T) {
	t.Parallel()
	for name, env := range map[string]map[string]string{
		"AUTHD_RATE_LIMIT_ENABLED":     {"AUTHD_RATE_LIMIT_ENABLED": "false"},
		"AUTHD_TRUSTED_PROXIES":        {"AUTHD_TRUSTED_PROXIES": "10.0.0.0/8,0.0.0.0/0"},
		"AUTHD_TRUSTED_PROXIES v6":     {"AUTHD_TRUSTED_PROXIES": "::/0"},
		"AUTHD_TRUSTED_PROXIES halves": {"AUTHD_TRUSTED_PROXIES": "0.0.0.0/1,128.0.0.0/1"},
		"AUTHD_TRUSTED_PROXIES global": {"AUTHD_TRUSTED_PROXIES": "2000::/3"},
	} {
		_, err := Load(production(t, env))
		if err == nil || !strings.Contains(err.Error(), strings.Fields(name)[0]) {
			t.Errorf("%v in production: err = %v, want a refusal naming it", env, err)
		}
		if _, err := Load(dev(env)); err != nil {
			t.Errorf("%v in development: %v", env, err)
		}
	}
	if _, err := Load(production(t, map[string]string{"AUTHD_TRUSTED_PROXIES": "10.0.0.0/8,fc00::/7,192.168.0.0/16"})); err != nil {
		t.Errorf("named proxy networks in production: %v", err)
	}
}

// TestLoad_ExampleDirIsADirectory: in development AUTHD_EXAMPLE_DIR may be
// missing (the page is not built yet: logged at start) or a directory, not a
// file; empty serves no page.
func TestLoad_ExampleDirIsADirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "index.html")
	if err := os.WriteFile(file, []byte("<!doctype html>"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ok := range []string{dir, filepath.Join(dir, "not-built"), ""} {
		if _, err := Load(dev(map[string]string{"AUTHD_EXAMPLE_DIR": ok})); err != nil {
			t.Errorf("AUTHD_EXAMPLE_DIR=%q refused: %v", ok, err)
		}
	}
	if _, err := Load(dev(map[string]string{"AUTHD_EXAMPLE_DIR": file})); err == nil || !strings.Contains(err.Error(), "AUTHD_EXAMPLE_DIR") {
		t.Errorf("AUTHD_EXAMPLE_DIR naming a file: %v", err)
	}
}

// TestLoad_PasskeySettings: the relying party id is a domain (or
// localhost) and every origin is on it, a plain scheme://host[:port];
// anything a browser would never match stops the start.
func TestLoad_PasskeySettings(t *testing.T) {
	t.Parallel()
	dev := func(rpID, origins string) error {
		_, err := Load(map[string]string{"AUTHD_ENV": "development", "AUTHD_WEBAUTHN_RP_ID": rpID, "AUTHD_WEBAUTHN_ORIGINS": origins})
		return err
	}
	for _, ok := range [][2]string{
		{"localhost", "http://localhost:8080"},
		{"example.com", "https://example.com,https://login.example.com:8443"},
	} {
		if err := dev(ok[0], ok[1]); err != nil {
			t.Errorf("rp id %q, origins %q refused: %v", ok[0], ok[1], err)
		}
	}
	for _, bad := range [][2]string{
		{"example.com", "https://evil.com"},
		{"example.com", "https://evilexample.com"},
		{"example.com", "https://login.example.com#frag"},
		{"example.com", "https://login.example.com:99999"},
		{"example.com", "https://login.example.com/path"},
		{"*.example.com", "https://login.example.com"},
		{"com", "https://example.com"},
		{"10.0.0.1", "https://10.0.0.1"},
		{"Example.com", "https://example.com"},
		{"example.com:443", "https://example.com"},
	} {
		err := dev(bad[0], bad[1])
		if err == nil || !strings.Contains(err.Error(), "AUTHD_WEBAUTHN_") {
			t.Errorf("rp id %q, origins %q accepted (%v)", bad[0], bad[1], err)
		}
	}
}
