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

// urlScheme is what a URL starts with; anything else is keyword/value text.
var urlScheme = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*://`)

// redact is what a message may show of a value that can hold a password.
// It works on the text, so that a value that does not parse is safe too,
// and it shows too little rather than too much: of a URL, the scheme and
// what follows the last @ up to any ? or # (the user part and the query,
// where a password can stand, are dropped); of keyword/value text, nothing.
func redact(value string) string {
	scheme := urlScheme.FindString(value)
	if scheme == "" {
		return "(keyword/value settings, not shown)"
	}
	rest := value[len(scheme):]
	user := ""
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest, user = rest[at+1:], "xxxxx@"
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 {
		rest = rest[:i] + "?…"
	}
	return scheme + user + rest
}

// UserPartSpills reports whether a URL's user part holds a / ? or # that
// is not percent-encoded: a URL parser then ends the host early, so a
// password would be read as host, path or query (and could be logged).
func UserPartSpills(value string) bool {
	scheme := urlScheme.FindString(value)
	at := strings.LastIndex(value, "@")
	return scheme != "" && at > len(scheme) && strings.ContainsAny(value[len(scheme):at], "/?#")
}

// scrub removes from a library's message every part of value that redact
// hides (the user part, the query), should the library have quoted it.
func scrub(msg, value string) string {
	scheme := urlScheme.FindString(value)
	if scheme == "" {
		if value != "" {
			msg = strings.ReplaceAll(msg, value, redact(value))
		}
		return msg
	}
	rest := value[len(scheme):]
	if at := strings.LastIndex(rest, "@"); at >= 0 && at > 0 {
		msg = strings.ReplaceAll(msg, rest[:at], "xxxxx")
	}
	if i := strings.IndexAny(rest, "?#"); i >= 0 && i+1 < len(rest) {
		msg = strings.ReplaceAll(msg, rest[i+1:], "…")
	}
	return msg
}
