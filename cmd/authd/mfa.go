package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
)

const mfaUsage = `usage: authd mfa reset EMAIL
  reset EMAIL   for a user who lost every factor and recovery code: remove the
                account's authenticator apps, passkeys, recovery codes and
                login challenges and end
                its sessions; it then logs in with its password alone. Check
                who asks first: this is how an account's second factor is
                bypassed`

// mfaCommand runs `authd mfa ...`, the operator's side of second factors.
func mfaCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	if len(args) != 2 || args[0] != "reset" || args[1] == "" {
		return errors.New(mfaUsage)
	}
	var removed int64
	err := withOfflineServer(ctx, cfg, log, func(srv *server.Server) (err error) {
		removed, err = srv.ResetFactors(ctx, args[1])
		return err
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "removed %d active factor(s) of %s, with its recovery codes; its sessions are ended and the address is sent a notice\n", removed, args[1])
	return err
}
