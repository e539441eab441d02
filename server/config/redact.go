package config

import (
	"regexp"
	"strings"
)

// secretVars hold passwords inside their values: a message shows them with
// the password masked.
var secretVars = map[string]bool{"DATABASE_URL": true, "AUTHD_SMTP_URL": true, "REDIS_URL": true}

// displayValue is value as a message may show it.
func displayValue(name, value string) string {
	if !secretVars[name] {
		return value
	}
	return redact(value)
}

var (
	keywordPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S*)`)
	queryPassword   = regexp.MustCompile(`(?i)([?&]password=)[^&]*`)
)

// redact masks the password of a URL (in its user part or its query) or of
// a key=value connection string. It works on the text, so that a URL that
// does not parse is masked too: everything up to the last @ counts as the
// user part, which masks too much rather than too little.
func redact(value string) string {
	scheme, rest, isURL := strings.Cut(value, "://")
	if !isURL {
		return keywordPassword.ReplaceAllString(value, "${1}xxxxx")
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	return queryPassword.ReplaceAllString(scheme+"://"+rest, "${1}xxxxx")
}
