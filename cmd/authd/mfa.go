package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
)

const mfaUsage = `usage: authd mfa reset EMAIL
  reset EMAIL   for a user who lost every factor and recovery code: remove the
                account's factors, recovery codes and login challenges and end
                its sessions; it then logs in with its password alone. Check
                who asks first: this is how an account's second factor is
                bypassed`

// mfaCommand runs `authd mfa ...`, the operator's side of second factors.
func mfaCommand(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	if len(args) != 2 || args[0] != "reset" || args[1] == "" {
		return errors.New(mfaUsage)
	}
	pool, err := database.Open(ctx, cfg.DatabaseURL, 2, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	removed, err := server.ResetFactors(ctx, pool, args[1], time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "removed %d active factor(s) of %s, with its recovery codes; its sessions are ended. Tell the user: no mail was sent.\n", removed, args[1])
	return err
}
