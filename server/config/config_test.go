package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/joho/godotenv"
)

func TestLoad_DefaultsAreValidForDevelopment(t *testing.T) {
	t.Parallel()
	cfg, err := Load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != ":8080" || cfg.Env != EnvDevelopment || cfg.AccessTTL != 15*time.Minute ||
		cfg.SessionTTL != 30*24*time.Hour || cfg.RefreshRetryWindow != 5*time.Minute || !cfg.AutoMigrate ||
		cfg.HashAlgorithm != "argon2id" || cfg.Argon2MemoryKiB != 19456 || cfg.Argon2Time != 2 || cfg.BcryptCost != 12 ||
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

func TestLoad_ProductionRequiresKeysAndSMTP(t *testing.T) {
	t.Parallel()
	_, err := Load(map[string]string{"AUTHD_ENV": "production"})
	if err == nil || !strings.Contains(err.Error(), "AUTHD_JWT_KEYS_FILE") || !strings.Contains(err.Error(), "AUTHD_SMTP_URL") {
		t.Fatalf("err = %v, want AUTHD_JWT_KEYS_FILE and AUTHD_SMTP_URL required", err)
	}
	if _, err := Load(map[string]string{"AUTHD_ENV": "production", "AUTHD_JWT_KEYS_FILE": "/etc/authd/keys.json", "AUTHD_SMTP_URL": "smtp://mail.example.com:587", "AUTHD_PUBLIC_URL": "https://auth.example.com"}); err != nil {
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
		if _, err := Load(env); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoad_ParsesListsAndLevels(t *testing.T) {
	t.Parallel()
	cfg, err := Load(map[string]string{"AUTHD_CORS_ORIGINS": "https://a.example,https://b.example", "AUTHD_LOG_LEVEL": "debug"})
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
		if _, ok := example[name]; !ok {
			t.Errorf(".env.example lacks %s", name)
		}
	}
	fromExample, err := Load(example)
	if err != nil {
		t.Fatal(err)
	}
	defaults, _ := Load(map[string]string{})
	if !reflect.DeepEqual(fromExample, defaults) {
		t.Errorf(".env.example differs from the defaults:\n%+v\n%+v", fromExample, defaults)
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
		m := map[string]string{}
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
	if _, err := Load(map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}); err == nil {
		t.Error("an unsupported exporter was accepted")
	}
}
