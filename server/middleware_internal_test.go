package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/gen/api"
)

func TestCheckJSON(t *testing.T) {
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
		err := checkJSON([]byte(body))
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

func TestRequireCaller_RefusesProtectedOperationsWithoutCaller(t *testing.T) {
	t.Parallel()
	spec, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	guard := s.requireCaller(spec)
	reached := map[string]bool{}
	for _, op := range []string{"GetMe", "UpdateMe", "DeleteMe", "Logout", "ListSessions", "RevokeSession", "Login", "GetHealth"} {
		h := guard(func(echo.Context, any) (any, error) { reached[op] = true; return nil, nil }, op)
		c := echo.New().NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
		_, err := h(c, nil)
		protected := op != "Login" && op != "GetHealth"
		if protected && (err == nil || reached[op]) {
			t.Errorf("%s ran without a caller", op)
		}
		if !protected && !reached[op] {
			t.Errorf("%s is public but was refused: %v", op, err)
		}
	}
}
