// Package server implements the generated strict server interface against the
// generated queries, and assembles the Echo application around it.
package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/token"
)

var _ api.StrictServerInterface = (*Server)(nil)

// Migrations is what readiness needs to know about the schema.
type Migrations interface {
	Versions(ctx context.Context) (current, target int64, err error)
}

// Deps are everything a Server needs; cmd/authd and the tests build them.
type Deps struct {
	DB         *database.Resilient
	Migrations Migrations
	Hasher     *password.Hasher
	Tokens     *token.Authority
	Keys       *token.Keys
	Log        *slog.Logger
	Version    string
	SessionTTL time.Duration
	// RefreshGrace is how long a just-rotated refresh token may be retried.
	RefreshGrace time.Duration
	Now          func() time.Time
}

// Server implements api.StrictServerInterface.
type Server struct {
	Deps
	docs
	db  *database.Resilient
	log *slog.Logger
}

// New returns a Server.
func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Server{Deps: d, db: d.DB, log: d.Log}
}
