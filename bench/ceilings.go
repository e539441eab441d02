package main

import (
	"bufio"
	"context"
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
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/crypto/argon2"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/clientip"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/token"
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
	cmd := exec.Command(exe, "-serve-me-ceiling", "-ceiling-db", dbURL, "-ceiling-jwks", string(jwks))
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
// by primary key through pgx (the generated GetUserByID), with authd's
// default pool size. It prints its
// address and serves until killed.
func serveMeCeiling(dbURL, jwks string) error {
	ctx := context.Background()
	set, err := jwk.Parse([]byte(jwks))
	if err != nil {
		return err
	}
	pool, err := ceilingPool(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	q := db.New(pool)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/me", func(c echo.Context) error {
		raw := strings.TrimPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		tok, err := jwt.ParseString(raw, jwt.WithKeySet(set))
		if err != nil {
			return echo.ErrUnauthorized
		}
		sub, _ := tok.Subject()
		id, err := uuid.Parse(sub)
		if err != nil {
			return echo.ErrUnauthorized
		}
		u, err := q.GetUserByID(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"id": u.ID.String(), "email": u.Email})
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr())
	return http.Serve(ln, e)
}

// rotationCeiling runs what a refresh asks of PostgreSQL and nothing more:
// the refresh handler's transaction, with the same generated queries
// (queries/refresh_tokens.sql) in the same order, lock the presented token
// and its session, then rotate it, but without HTTP, middleware or token
// signing. Each worker rotates a chain of its own in a session of userID.
func rotationCeiling(ctx context.Context, pool *pgxpool.Pool, userID string, workers int) (load, error) {
	uid, err := uuid.Parse(userID)
	if err != nil {
		return load{}, err
	}
	current := make([]string, workers)
	for w := range workers {
		current[w] = token.NewOpaque()
		q := db.New(pool)
		sess, err := q.CreateSession(ctx, db.CreateSessionParams{UserID: uid, ExpiresAt: time.Now().Add(24 * time.Hour), UserAgent: "bench", Ip: benchClient, Now: time.Now(), Amr: []string{"pwd"}})
		if err == nil {
			err = q.CreateRefreshToken(ctx, db.CreateRefreshTokenParams{SessionID: sess.ID, TokenHash: token.HashOpaque(current[w]), Now: time.Now()})
		}
		if err != nil {
			return load{}, err
		}
	}
	client := clientip.Key(benchClient)
	return load{workers, func(w int) error {
		presented, next := current[w], token.NewOpaque()
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			q := db.New(tx)
			row, err := q.LockRefreshToken(ctx, token.HashOpaque(presented))
			if err != nil {
				return err
			}
			now := time.Now()
			if !row.ExpiresAt.After(now) || row.RevokedAt != nil || !row.IsActive || row.RotatedAt != nil {
				return errors.New("rotation ceiling: the chain's token is not current")
			}
			return q.RotateRefreshToken(ctx, db.RotateRefreshTokenParams{
				ID: row.ID, SessionID: row.SessionID, Now: now,
				SuccessorHash: token.HashOpaque(next), SuccessorSealed: token.SealSuccessor(presented, next, row.SessionID, row.ID, client),
			})
		})
		if err == nil {
			current[w] = next
		}
		return err
	}}, nil
}

// benchClient is the address the ceiling's sessions are bound to, as
// authd's are to the client's.
const benchClient = "127.0.0.1"

// ceilingPool is a pool as authd's: as many connections at most
// (AUTHD_DB_MAX_CONNS' default), so that a ceiling's statements meet
// PostgreSQL at the concurrency authd's do.
func ceilingPool(ctx context.Context, dbURL string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	defaults, err := config.Load(map[string]string{"AUTHD_ENV": config.EnvDevelopment})
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = defaults.DBMaxConns
	return pgxpool.NewWithConfig(ctx, cfg)
}
