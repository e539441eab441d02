package server

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// ajvEmail is the rule of the format: email checks that clients commonly
// run (ajv-formats in both its full and fast modes, as Prism uses): an
// ASCII dot-atom, '@', and two or more LDH labels of at most 63 characters.
var ajvEmail = regexp.MustCompile("^[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]+)*@([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\\.)+[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")

func TestCanonicalEmail_OneFormOrARefusal(t *testing.T) {
	t.Parallel()
	accepted := map[string]string{
		"ada@example.com":             "ada@example.com",
		"  Ada.Lovelace@Example.COM ": "Ada.Lovelace@example.com", // the domain is lower-cased, the local part kept
		"ada+news@example.com":        "ada+news@example.com",
		"o'brien@example.co.uk":       "o'brien@example.co.uk",
		"ada@bücher.example":          "ada@xn--bcher-kva.example", // IDNA: stored as A-labels
		"ada@BÜCHER.example":          "ada@xn--bcher-kva.example",
		"ada@bu\u0308cher.example":    "ada@xn--bcher-kva.example", // NFD input, one form
		"ada@xn--bcher-kva.example":   "ada@xn--bcher-kva.example",
		"ada@a-b.example":             "ada@a-b.example",
	}
	for in, want := range accepted {
		got, err := canonicalEmail(in)
		if err != nil || got != want {
			t.Errorf("canonicalEmail(%+q) = %q, %v; want %q", in, got, err, want)
			continue
		}
		if !ajvEmail.MatchString(got) {
			t.Errorf("canonicalEmail(%+q) = %q fails the common format: email rule", in, got)
		}
	}
	refused := map[string]string{
		"\ufffd@example.com":                        "U+FFFD",
		"ada@exa\ufffdmple.com":                     "U+FFFD",
		"ada\x00@example.com":                       "control",
		"ada\u0085@example.com":                     "control",
		"ad\u200ba@example.com":                     "invisible", // zero-width space
		"ada@exa\u00admple.com":                     "invisible", // soft hyphen, which IDNA would silently drop
		"ada@example.com\u202e":                     "invisible", // bidi override
		"ada@exa\u200dmple.com":                     "invisible", // zero-width joiner
		"ada\ufe0f@example.com":                     "invisible", // variation selector
		"x@[10.0.0.5]":                              "literal",
		"x@[IPv6:::1]":                              "literal",
		"x@10.0.0.5":                                "domain",
		"x@localhost":                               "domain",
		"x@example.com.":                            "domain",
		"x@-example.com":                            "domain",
		"x@exa_mple.com":                            "domain",
		"x@example..com":                            "domain",
		"\"a b\"@example.com":                       "before the @",
		"a..b@example.com":                          "before the @",
		".ab@example.com":                           "before the @",
		"ab.@example.com":                           "before the @",
		"adä@example.com":                           "before the @",
		"a@b@example.com":                           "before the @",
		"Ada <ada@example.com>":                     "before the @",
		"ada":                                       "@",
		"@example.com":                              "before the @",
		strings.Repeat("a", 65) + "@example.com":    "64",
		"a@" + strings.Repeat("b", 64) + ".example": "domain",
		strings.Repeat("a", 64) + "@" + strings.Repeat(strings.Repeat("b", 45)+".", 4) + "example": "254",
	}
	for in, want := range refused {
		got, err := canonicalEmail(in)
		if err == nil {
			t.Errorf("canonicalEmail(%+q) = %q, want a refusal", in, got)
		} else if !strings.Contains(err.Error(), want) {
			t.Errorf("canonicalEmail(%+q): %v; want it to mention %q", in, err, want)
		}
	}
}

func TestEmailKey_FoldsTagsAndCaseNotDots(t *testing.T) {
	t.Parallel()
	same := []string{"ada@example.com", "Ada+news@Example.com", "ADA+a+b@EXAMPLE.COM", " ada@example.com"}
	for _, e := range same {
		if got := emailKey(e); got != "ada@example.com" {
			t.Errorf("emailKey(%q) = %q, want ada@example.com", e, got)
		}
	}
	if emailKey("a.da@example.com") == emailKey("ada@example.com") {
		t.Error("dots were folded")
	}
	if got := emailKey("ada@BÜCHER.example"); got != "ada@xn--bcher-kva.example" {
		t.Errorf("IDNA domain key: %q", got)
	}
	if got := emailKey("+x@example.com"); got != "+x@example.com" {
		t.Errorf("a local part that starts with + keeps it: %q", got)
	}
}

// Random addresses mixing the characters that trip address parsers:
// whatever canonicalEmail accepts must pass the common format: email rule
// and be its own canonical form.
func TestCanonicalEmail_EveryAcceptedAddressPassesCommonValidators(t *testing.T) {
	t.Parallel()
	odd := []string{".", "+", "-", "_", "'", "@", " ", "\"", "[", "]", "\u200b", "\u00ad", "\u202e", "\ufe0f", "\ufffd", "\x00", "\u0085", "\u3002", "xn--"}
	letters := []string{"a", "Z", "0", "9", "ex", "com", "ü", "u\u0308", "ß", "İ", "é", "ﬀ", "Ⅸ", "\u0627", "ab", "q"}
	rng := rand.New(rand.NewPCG(1, 2))
	part := func(n int) string {
		var b strings.Builder
		for range 1 + rng.IntN(n) {
			if rng.IntN(5) == 0 {
				b.WriteString(odd[rng.IntN(len(odd))])
			} else {
				b.WriteString(letters[rng.IntN(len(letters))])
			}
		}
		return b.String()
	}
	accepted := 0
	for range 50_000 {
		in := part(4) + "@" + part(3) + "." + part(2)
		if rng.IntN(2) == 0 {
			in += "." + part(2)
		}
		got, err := canonicalEmail(in)
		if err != nil {
			continue
		}
		accepted++
		if !ajvEmail.MatchString(got) {
			t.Errorf("canonicalEmail(%+q) = %q fails the common format: email rule", in, got)
		}
		if again, err := canonicalEmail(got); err != nil || again != got {
			t.Errorf("canonicalEmail(%q) = %q, %v: not its own canonical form", got, again, err)
		}
	}
	if accepted < 1000 {
		t.Errorf("only %d random inputs were accepted: the generator tests too little", accepted)
	}
}
