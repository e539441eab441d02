package password

import (
	"bufio"
	"bytes"
	_ "embed"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Policy names.
const (
	// PolicyDefault: 8 to 128 characters with an upper-case letter, a
	// lower-case letter and a digit.
	PolicyDefault = "default"
	// PolicyNIST follows NIST SP 800-63B: at least 15 characters and no
	// composition rules.
	PolicyNIST = "nist"
)

// commonPasswords is Openwall's public-domain password.lst (3,546 entries,
// most common first); see the README for the attribution.
//
//go:embed common-passwords.txt
var commonPasswords []byte

var blocklist = func() map[string]bool {
	set := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(commonPasswords))
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#!comment") {
			set[strings.ToLower(line)] = true
		}
	}
	return set
}()

// isCommon reports whether a lower-cased password is a listed one, or a
// listed one dressed up: wrapped in digits and symbols ("Password1!",
// "!!qwerty2024") or repeated ("monkeymonkeymonkey"). Long passwords are
// rarely listed verbatim, so without this the list would never bite the
// NIST policy's 15-character minimum.
func isCommon(lower string) bool {
	core := strings.TrimFunc(lower, func(r rune) bool { return !unicode.IsLetter(r) })
	for _, w := range []string{lower, core} {
		if blocklist[w] {
			return true
		}
		n := len(w)
		for size := 1; size <= n/2; size++ {
			if n%size == 0 && strings.Repeat(w[:size], n/size) == w && (size < 4 || blocklist[w[:size]]) {
				return true
			}
		}
	}
	return false
}

// minLocalPart is the shortest email local part that passwords may not
// contain; shorter ones ("a", "jo") would forbid ordinary passwords.
const minLocalPart = 3

// Policy holds the rules for new passwords. The length limits of the default
// policy are also in openapi.yaml; everything else is checked here.
type Policy struct {
	Name string // PolicyDefault or PolicyNIST
}

// Violations lists each rule pw breaks, as messages naming the rule; nil
// means pw is acceptable. email, when not empty, adds the rule that the
// password must not contain the address's local part.
func (p Policy) Violations(pw, email string) []string {
	var out []string
	n := utf8.RuneCountInString(pw)
	if p.Name == PolicyNIST && n < 15 {
		out = append(out, "must be at least 15 characters")
	}
	if p.Name != PolicyNIST {
		out = append(out, composition(pw)...)
	}
	lower := strings.ToLower(pw)
	if isCommon(lower) {
		out = append(out, "must not be a commonly used password")
	}
	local, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(email)), "@")
	if utf8.RuneCountInString(local) >= minLocalPart && strings.Contains(lower, local) {
		out = append(out, "must not contain the part of the email address before the @")
	}
	return out
}

// composition checks the default policy's character classes.
func composition(pw string) []string {
	var upper, lower, digit bool
	for _, r := range pw {
		upper = upper || unicode.IsUpper(r)
		lower = lower || unicode.IsLower(r)
		digit = digit || unicode.IsDigit(r)
	}
	var out []string
	if !upper {
		out = append(out, "must contain an upper-case letter")
	}
	if !lower {
		out = append(out, "must contain a lower-case letter")
	}
	if !digit {
		out = append(out, "must contain a digit")
	}
	return out
}
