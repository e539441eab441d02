package config

import (
	"net/url"
	"regexp"
	"strings"
)

// secretVars hold passwords inside their values: a message shows them with
// the password masked, and only when the mask is certain.
var secretVars = map[string]bool{"DATABASE_URL": true, "AUTHD_SMTP_URL": true, "REDIS_URL": true}

// displayValue is value as a message may show it.
func displayValue(name, value string) string {
	if !secretVars[name] {
		return value
	}
	return redact(value)
}

var keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)

// redact masks the password of a URL or of a key=value connection string.
// A URL that does not parse is shown as its scheme only: where its password
// ends cannot be told.
func redact(value string) string {
	if !strings.Contains(value, "://") {
		return keywordPassword.ReplaceAllString(value, "${1}xxxxx")
	}
	u, err := url.Parse(value)
	if err != nil {
		scheme, _, _ := strings.Cut(value, "://")
		return scheme + "://(not shown: it does not parse and may hold a password)"
	}
	if q := u.Query(); q.Has("password") { // pgx takes one there too
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
