package main

import (
	"testing"

	"github.com/authd/authd/server/config"
)

func TestWantsEmbeddedDatabase_OnlyInDevelopmentWithoutAnyOther(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		env       map[string]string
		listening bool
		want      bool
	}{
		{"development, no DATABASE_URL, nothing on 5432", map[string]string{"AUTHD_ENV": "development"}, false, true},
		{"development, no DATABASE_URL, a server on 5432", map[string]string{"AUTHD_ENV": "development"}, true, false},
		{"development, DATABASE_URL set", map[string]string{"AUTHD_ENV": "development", "DATABASE_URL": "postgres://db.example:5432/authd"}, false, false},
		{"development, DATABASE_URL empty counts as not set", map[string]string{"AUTHD_ENV": "development", "DATABASE_URL": ""}, false, true},
		{"production, no DATABASE_URL, nothing on 5432", map[string]string{"AUTHD_ENV": "production"}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, _ := config.Load(tc.env) // production misses its secrets here; only Env and DatabaseURL matter
			var probed string
			got := wantsEmbeddedDatabase(cfg, tc.env, func(addr string) bool { probed = addr; return tc.listening })
			if got != tc.want {
				t.Fatalf("wantsEmbeddedDatabase = %v, want %v", got, tc.want)
			}
			if probed != "" && probed != "127.0.0.1:5432" {
				t.Fatalf("probed %q, want the default URL's 127.0.0.1:5432", probed)
			}
		})
	}
}

func TestDatabaseForLog_NeverShowsAPassword(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"postgres://postgres:postgres@localhost:54329/authd?sslmode=disable": "postgres://postgres@localhost:54329/authd",
		"postgres://app@db:5432/authd?password=hunter2":                      "postgres://app@db:5432/authd",
		"postgres://u@127.0.0.1:5432/authd":                                  "postgres://u@127.0.0.1:5432/authd",
		"host=db port=5433 user=app password=hunter2 dbname=authd":           "postgres://app@db:5433/authd",
		// Unencoded / and # in a password: the text's host and path would hold it.
		"postgres://authd:12345/Zz9SECRET@db.internal/authd": "(DATABASE_URL with an unencoded / ? or # in its user part)",
		"postgres://authd:2024#SECRET@db/authd":              "(DATABASE_URL with an unencoded / ? or # in its user part)",
		"postgres://authd:2024%23SECRET@db/authd":            "postgres://authd@db:5432/authd",
	} {
		if got := databaseForLog(raw); got != want {
			t.Errorf("databaseForLog(%q) = %q, want %q", raw, got, want)
		}
	}
}
