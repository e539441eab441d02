package server

import (
	"errors"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// canonicalEmail is authd's one definition of an email address: it returns
// the form every address is stored, compared and mailed in, or why the
// input is not an address. Steps, in order:
//   - surrounding white space is trimmed and the rest NFC-normalised, so
//     one address typed in composed or decomposed form is one address;
//   - control characters, U+FFFD (what an undecodable character, such as a
//     JSON lone surrogate, turns into) and invisible characters (format
//     characters such as zero-width spaces, joiners and bidi controls,
//     other default-ignorable code points, variation selectors) are
//     refused rather than dropped, so no two different-looking inputs
//     become one address and no address shows something it does not hold;
//   - the part before the last '@' is an RFC 5322 dot-atom of ASCII (no
//     quoted strings, no non-ASCII: the format: email check of common
//     validators refuses them, and relays without SMTPUTF8 cannot deliver
//     them), at most 64 characters, its case kept;
//   - the domain is a host name, not a literal like [10.0.0.5]: IDNA
//     (UTS #46, non-transitional) maps it to lower-case ASCII labels
//     (bücher.example becomes xn--bcher-kva.example), two or more, each 1
//     to 63 letters, digits and inner hyphens, the last not all digits (so
//     a bare IP address is refused too);
//   - the whole is at most 254 characters.
//
// Every address it returns passes the format: email checks of ajv-formats
// (full and fast), as used by Prism.
func canonicalEmail(raw string) (string, error) {
	s := norm.NFC.String(strings.TrimSpace(raw))
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			return "", errors.New(invalidEmail + ": U+FFFD, what an undecodable character becomes, is not allowed")
		case unicode.IsControl(r):
			return "", errors.New(invalidEmail + ": control characters are not allowed")
		case invisible(r):
			return "", errors.New(invalidEmail + ": invisible characters such as zero-width spaces and bidi controls are not allowed")
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", errors.New(invalidEmail + " like name@example.com")
	}
	local, domain := s[:at], s[at+1:]
	if strings.HasPrefix(domain, "[") {
		return "", errors.New(invalidEmail + ": address literals such as [10.0.0.5] are not allowed, name a domain")
	}
	if !dotAtom.MatchString(local) {
		return "", errors.New(invalidEmail + ": the part before the @ must be ASCII letters, digits and !#$%&'*+/=?^_`{|}~- with single dots between them")
	}
	if len(local) > 64 {
		return "", errors.New(invalidEmail + ": the part before the @ must be at most 64 characters")
	}
	host, err := idnaProfile.ToASCII(domain)
	labels := strings.Split(host, ".")
	if err != nil || len(labels) < 2 || allDigits(labels[len(labels)-1]) {
		return "", errDomain
	}
	for _, l := range labels {
		if !ldhLabel.MatchString(l) {
			return "", errDomain
		}
	}
	addr := local + "@" + host
	if len(addr) > 254 {
		return "", errors.New("must be at most 254 characters, with the domain in its ASCII form")
	}
	return addr, nil
}

const invalidEmail = "must be a valid email address"

var errDomain = errors.New(invalidEmail + ": the domain must be a host name with a dot, such as example.com")

var (
	dotAtom  = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
	ldhLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	// idnaProfile is UTS #46 lookup processing with the strict (STD3) host
	// name rules, bidi and joiner checks and DNS lengths.
	idnaProfile = idna.New(idna.MapForLookup(), idna.Transitional(false), idna.BidiRule(), idna.ValidateLabels(true),
		idna.StrictDomainName(true), idna.CheckHyphens(true), idna.CheckJoiners(true), idna.VerifyDNSLength(true))
)

// invisible reports the characters that render as nothing (or change how
// their neighbours render): Unicode format characters, the other
// default-ignorable code points and variation selectors.
func invisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) || unicode.Is(unicode.Variation_Selector, r)
}

func allDigits(s string) bool {
	return strings.Trim(s, "0123456789") == ""
}

// validateEmail is the spec's email format: an address canonicalEmail
// accepts. Its message becomes the 422's field error.
func validateEmail(v string) error {
	_, err := canonicalEmail(v)
	return err
}

// normalizeEmail is the form in which emails are stored and looked up (see
// canonicalEmail). Every email a handler sees passed the spec's format, so
// the fallback (trimmed input) is never stored.
func normalizeEmail(e string) string {
	if addr, err := canonicalEmail(e); err == nil {
		return addr
	}
	return strings.TrimSpace(e)
}

// mailboxKey is the mailbox an address (already normalised) names, as the
// limits and the mail throttle key on it: lower case, as the database
// compares addresses, and without a +tag (everything from the first '+' of
// the local part to the '@'), since the big providers deliver a+x@ and a@ to
// one mailbox. Dots are kept: only some providers ignore them, and
// elsewhere a.b@ and ab@ are different people who must not share a budget.
func mailboxKey(addr string) string {
	addr = strings.ToLower(addr)
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	if plus := strings.IndexByte(addr[:at], '+'); plus > 0 {
		return addr[:plus] + addr[at:]
	}
	return addr
}

// emailKey is the form of an email in limit and throttle keys: the mailbox
// the normalised address names (see mailboxKey).
func emailKey(e string) string { return mailboxKey(normalizeEmail(e)) }
