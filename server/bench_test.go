package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

var discardLogs testkit.Option = func(d *server.Deps) { d.Log = slog.New(slog.DiscardHandler) }

func do(b *testing.B, c *http.Client, req *http.Request, want int) []byte {
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	return body
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

// BenchmarkGetMe: verify the JWT, one primary-key select, encode the user.
func BenchmarkGetMe(b *testing.B) {
	app := testkit.NewApp(b, testkit.FastHashing, testkit.NoLimits, discardLogs)
	_, pair := app.NewUser(b)
	c := benchClient()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, app.URL+"/users/me", nil)
			req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
			do(b, c, req, http.StatusOK)
		}
	})
}

// BenchmarkRefresh rotates one chain per goroutine: lock, insert, update, commit.
func BenchmarkRefresh(b *testing.B) {
	app := testkit.NewApp(b, testkit.FastHashing, testkit.NoLimits, discardLogs)
	u, _ := app.NewUser(b)
	c := benchClient()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		tok := app.Login(b, u.Email, testkit.Password).RefreshToken
		for pb.Next() {
			body, _ := json.Marshal(map[string]string{"refresh_token": tok})
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/refresh-token", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			var pair struct {
				RefreshToken string `json:"refresh_token"`
			}
			if err := json.Unmarshal(do(b, c, req, http.StatusOK), &pair); err != nil {
				b.Fatal(err)
			}
			tok = pair.RefreshToken
		}
	})
}

// BenchmarkLogin uses the production argon2id parameters (19 MiB, t=2),
// with rate limits off as for any load test (one client hammering one
// account is exactly what the limits refuse).
func BenchmarkLogin(b *testing.B) {
	app := testkit.NewApp(b, testkit.NoLimits, discardLogs)
	u, _ := app.NewUser(b)
	body := testkit.Must(json.Marshal(map[string]string{"email": u.Email, "password": testkit.Password}))(b)
	c := benchClient()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/login", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			do(b, c, req, http.StatusOK)
		}
	})
}

func BenchmarkJWKS(b *testing.B) {
	app := testkit.NewApp(b, discardLogs)
	c := benchClient()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, app.URL+"/.well-known/jwks.json", nil)
			do(b, c, req, http.StatusOK)
		}
	})
}
