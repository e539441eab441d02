package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd"
)

func TestRequireCaller_RefusesProtectedOperationsWithoutCaller(t *testing.T) {
	t.Parallel()
	spec, err := authd.LoadSpec()
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
