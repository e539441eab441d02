package password

import "unicode"

// Violations lists every composition rule of the password policy that pw
// breaks, as messages for a 422 response; nil means pw is acceptable. Length
// limits (8 to 128 characters) live in openapi.yaml, which can express them;
// these rules need character classes that a JSON Schema pattern (no
// look-ahead in Go's regexp) cannot combine.
func Violations(pw string) []string {
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
