package main

import (
	"context"
	"log/slog"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
)

// withOfflineServer runs fn with the whole server built on a small pool, for
// its queries, events, mail outbox and clock: an operator's command that
// serves nothing.
func withOfflineServer(ctx context.Context, cfg config.Config, log *slog.Logger, fn func(*server.Server) error) error {
	pool, err := database.Open(ctx, cfg.DatabaseURL, 2, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	srv, err := server.Build(ctx, cfg, server.Base{Pool: pool, Log: log, Version: version})
	if err != nil {
		return err
	}
	return fn(srv)
}
