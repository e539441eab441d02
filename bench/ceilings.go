package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/crypto/argon2"

	"github.com/authd/authd/server/config"
)

// hashCeiling is the configured argon2id hash, straight from x/crypto, on
// every core: no login can be faster than one verification.
func hashCeiling(c config.Config) load {
	salt := make([]byte, 16)
	return load{runtime.NumCPU(), func(int) error {
		argon2.IDKey([]byte("correct horse battery staple"), salt, c.Argon2Time, c.Argon2MemoryKiB, c.Argon2Threads, 32)
		return nil
	}}
}

// meCeiling starts the GET /users/me ceiling as a process of its own, as
// authd is one: in the load generator's own process the ceiling would share
// the Go scheduler with its client and skip the switches between processes
// that authd pays.
func meCeiling(dbURL string, jwks []byte) (url string, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(exe, "-serve-me-ceiling")
	cmd.Env = append(os.Environ(), "BENCH_DATABASE_URL="+dbURL, "BENCH_JWKS="+string(jwks))
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // no orphan if bench dies
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop = func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	r := bufio.NewReader(out)
	addr, err := r.ReadString('\n')
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("me ceiling did not start: %w", err)
	}
	go func() { _, _ = io.Copy(io.Discard, r) }() // a full pipe would block it
	return "http://" + strings.TrimSpace(addr) + "/me", stop, nil
}

// serveMeCeiling is the ceiling process: an Echo handler that verifies the
// same JWT with the same library against authd's JWKS and selects the user
// by primary key through pgx, with authd's default pool size. It prints its
// address and serves until killed.
func serveMeCeiling() error {
	ctx := context.Background()
	set, err := jwk.Parse([]byte(os.Getenv("BENCH_JWKS")))
	if err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(os.Getenv("BENCH_DATABASE_URL"))
	if err != nil {
		return err
	}
	defaults, err := config.Load(map[string]string{"AUTHD_ENV": config.EnvDevelopment})
	if err != nil {
		return err
	}
	cfg.MaxConns = defaults.DBMaxConns // as authd's pool
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/me", func(c echo.Context) error {
		raw := strings.TrimPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		tok, err := jwt.ParseString(raw, jwt.WithKeySet(set))
		if err != nil {
			return echo.ErrUnauthorized
		}
		sub, _ := tok.Subject()
		var id, email string
		if err := pool.QueryRow(c.Request().Context(), "SELECT id::text, email FROM users WHERE id = $1", sub).Scan(&id, &email); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"id": id, "email": email})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	return http.Serve(ln, e)
}

// rotationCeiling runs the bare rotation transaction refresh cannot avoid:
// lock the presented token, mark it rotated, insert its successor. Each
// worker rotates a chain of its own in a session of userID.
func rotationCeiling(ctx context.Context, pool *pgxpool.Pool, userID string, workers int) (load, error) {
	current := make([][]byte, workers)
	sessions := make([]string, workers)
	for w := range workers {
		current[w] = randomHash()
		err := pool.QueryRow(ctx, `INSERT INTO sessions (user_id, expires_at) VALUES ($1, now() + interval '1 day') RETURNING id::text`, userID).Scan(&sessions[w])
		if err == nil {
			_, err = pool.Exec(ctx, `INSERT INTO refresh_tokens (session_id, token_hash) VALUES ($1, $2)`, sessions[w], current[w])
		}
		if err != nil {
			return load{}, err
		}
	}
	return load{workers, func(w int) error {
		next := randomHash()
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			var id string
			if err := tx.QueryRow(ctx, `SELECT id::text FROM refresh_tokens WHERE token_hash = $1 AND rotated_at IS NULL FOR UPDATE`, current[w]).Scan(&id); err != nil {
				return err
			}
			var nextID string
			if err := tx.QueryRow(ctx, `INSERT INTO refresh_tokens (session_id, token_hash) VALUES ($1, $2) RETURNING id::text`, sessions[w], next).Scan(&nextID); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = now(), successor_id = $2 WHERE id = $1`, id, nextID)
			if err == nil && tag.RowsAffected() != 1 {
				err = errors.New("rotation updated no row")
			}
			return err
		})
		if err == nil {
			current[w] = next
		}
		return err
	}}, nil
}

func randomHash() []byte {
	h := sha256.Sum256([]byte(rand.Text()))
	return h[:]
}
