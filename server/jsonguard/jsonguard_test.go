package jsonguard

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	cases := map[string]string{ // body -> part of the error; "" means valid
		`{"a":1,"b":{"c":[1,{"d":2}]}}`: "",
		`{"a":1,"a":2}`:                 `duplicate field "a"`,
		`{"a":{"b":1,"b":2}}`:           `duplicate field "a.b"`,
		`{"a":[{"x":1,"x":1}]}`:         `duplicate field "a[].x"`,
		`{"a":{"b":1},"c":{"b":1}}`:     "", // the same key in sibling objects is fine
		`{"a":1`:                        "unexpected end",
		`{"a" 1}`:                       "syntax error",
		`{"a":1} {"b":2}`:               "after the JSON value",
		`"just a string"`:               "",
		`{"secret-Horse-7":}`:           "syntax error",
		strings.Repeat("[", 32) + strings.Repeat("]", 32):           "",
		strings.Repeat("[", 33) + strings.Repeat("]", 33):           "nested deeper",
		strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40): "nested deeper",
		strings.Repeat("[", 64<<10):                                 "nested deeper",
	}
	for body, want := range cases {
		err := Check([]byte(body))
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v, want valid", body, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want %q", body, err, want)
		case err != nil && strings.Contains(err.Error(), "Horse"):
			t.Errorf("error echoes the body: %v", err)
		}
	}
}

// FuzzCheck: Check never panics, accepts only valid JSON, and its errors
// never echo the body (which may hold a password).
func FuzzCheck(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data)
		if err == nil && !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if err != nil && strings.Contains(err.Error(), string(data)) && len(data) > 8 {
			t.Fatalf("the error echoes the input: %v", err)
		}
	})
}
