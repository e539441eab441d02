package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServe_CreatesMigratesServesAndStops runs the real binary's serve path:
// in development it creates the missing database, applies migrations,
// answers readiness, and returns cleanly when its context ends.
func TestServe_CreatesMigratesServesAndStops(t *testing.T) {
	dbURL := newDatabaseURL(t, "authd_test_serve_")

	addr, privateAddr := freeAddr(t), freeAddr(t)
	t.Setenv("AUTHD_ENV", "development")
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("AUTHD_ADDR", addr)
	t.Setenv("AUTHD_METRICS_ADDR", privateAddr)
	t.Setenv("AUTHD_LOG_LEVEL", "error")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, &bytes.Buffer{}) }()

	var ready struct{ Status string }
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readiness")
		if err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&ready)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v", err)
		case <-time.After(50 * time.Millisecond): // polling for start-up, not ordering work
		}
		if time.Now().After(deadline) {
			t.Fatal("authd did not become ready in 30 s")
		}
	}
	if ready.Status != "ready" {
		t.Errorf("readiness = %+v", ready)
	}
	// Development shows the details publicly, but not /metrics unless asked;
	// the private listener serves both.
	for _, c := range []struct {
		url, want string
		status    int
	}{
		{"http://" + addr + "/readiness", `"mail_outbox"`, 200},
		{"http://" + addr + "/metrics", "", 404},
		{"http://" + privateAddr + "/metrics", "authd_build_info", 200},
		{"http://" + privateAddr + "/readiness", `"mail_outbox"`, 200},
	} {
		resp, err := http.Get(c.url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(body), c.want) {
			t.Errorf("GET %s: %d %.100s, want %d with %s", c.url, resp.StatusCode, body, c.status, c.want)
		}
	}

	// A request whose body is still arriving when shutdown begins must be
	// answered, not cut off.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"email":"drain@example.com","password":"Correct-Horse-7"}`
	if _, err := fmt.Fprintf(conn, "POST /auth/register HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	// "100 Continue" comes when the handler starts reading the body: from
	// here on the request is in flight.
	if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("no 100 Continue: %q %v", line, err)
	}
	_, _ = br.ReadString('\n') // the blank line after it
	cancel()
	for { // shutdown has begun once the listener refuses new connections
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		select {
		case <-time.After(10 * time.Millisecond): // polling for the listener to close
		case err := <-done:
			t.Fatalf("serve stopped before draining: %v", err)
		}
	}
	if _, err := conn.Write([]byte(body)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request cut off: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("in-flight request during shutdown: %d, want 201", resp.StatusCode)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get("http://" + addr + "/health"); err == nil {
		t.Error("still serving after shutdown")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
