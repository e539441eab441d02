package main

import (
	"net/url"

	"github.com/authd/authd/server/config"
)

// startupAttrs are what the "authd listening" line says beside the address:
// the signing key, the database, where rate limits are kept and where mail
// goes. Never a credential: URLs are reduced to their host.
func startupAttrs(cfg config.Config, signingKid string) []any {
	return []any{
		"signing_kid", signingKid,
		"database", databaseForLog(cfg.DatabaseURL),
		"rate_limits", rateLimitStore(cfg),
		"mail", mailMode(cfg),
	}
}

func rateLimitStore(cfg config.Config) string {
	switch {
	case !cfg.RateLimitEnabled:
		return "disabled"
	case cfg.RedisURL != "":
		return "redis " + hostOf(cfg.RedisURL)
	default:
		return "memory (per instance)"
	}
}

func mailMode(cfg config.Config) string {
	if cfg.SMTPURL == "" {
		return "log (not sent)"
	}
	return "smtp " + hostOf(cfg.SMTPURL)
}

// hostOf is a URL's host, without its user, password or parameters.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	return u.Host
}
