package server_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authd/authd/server/testkit"
)

// TestRequests_BodyTrickledPastTheTimeoutIs408: a client still sending its
// body when the read deadline (AUTHD_REQUEST_TIMEOUT in production) passes
// is told 408 and its connection closed, not 400 "could not be read".
func TestRequests_BodyTrickledPastTheTimeoutIs408(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	hs := httptest.NewUnstartedServer(app.Server.Handler())
	hs.Config.ReadTimeout = 300 * time.Millisecond // as cmd/authd sets it from the request timeout
	hs.Start()
	defer hs.Close()

	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = fmt.Fprint(conn, "POST /auth/login HTTP/1.1\r\nHost: authd\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"email\":")
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var problem struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&problem); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestTimeout || problem.Status != http.StatusRequestTimeout || problem.Type != "https://authd.dev/problems/request-timeout" {
		t.Errorf("trickled body: %d %+v, want 408 request-timeout", resp.StatusCode, problem)
	}
	if !resp.Close {
		t.Error("the connection with an unread body was kept open")
	}
}
