package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
)

const adminUsage = `usage: authd admin COMMAND
  grant EMAIL     give the account the admin role (the admin API also needs a
                  login with a second factor unless AUTHD_ADMIN_REQUIRE_MFA=false)
  revoke EMAIL    take the admin role away; refused for the last active admin
  credentials create --name NAME --scopes SCOPE,... [--expires DURATION]
                  a service credential for the admin API, scopes of users:read,
                  users:write, users:erase; prints its token, and only it, on
                  stdout, once: store it now (authd keeps only a hash)
  credentials list              every credential: name, id, scopes, dates, state
  credentials revoke NAME|ID    refuse the credential from its next request`

// adminCommand runs `authd admin ...`: the bootstrap of admins and the
// service credentials, without SQL.
func adminCommand(ctx context.Context, cfg config.Config, log *slog.Logger, args []string, out io.Writer) error {
	run, err := adminStep(args)
	if err != nil {
		return err
	}
	return withOfflineServer(ctx, cfg, log, func(srv *server.Server) error { return run(ctx, srv, log, out) })
}

// adminRun is one parsed admin step.
type adminRun func(ctx context.Context, srv *server.Server, log *slog.Logger, out io.Writer) error

// adminStep parses the arguments of `authd admin` before anything is
// opened, so a usage error touches nothing.
func adminStep(args []string) (adminRun, error) {
	usage := errors.New(adminUsage)
	switch {
	case len(args) == 2 && args[0] == "grant" && args[1] != "":
		return func(ctx context.Context, srv *server.Server, _ *slog.Logger, out io.Writer) error {
			return grantAdmin(ctx, srv, out, args[1])
		}, nil
	case len(args) == 2 && args[0] == "revoke" && args[1] != "":
		return func(ctx context.Context, srv *server.Server, _ *slog.Logger, out io.Writer) error {
			return revokeAdmin(ctx, srv, out, args[1])
		}, nil
	case len(args) >= 2 && args[0] == "credentials":
		return credentialStep(args[1], args[2:])
	}
	return nil, usage
}

func grantAdmin(ctx context.Context, srv *server.Server, out io.Writer, email string) error {
	granted, err := srv.GrantAdmin(ctx, email)
	if err != nil {
		return fmt.Errorf("%s: %w", email, err)
	}
	if !granted {
		_, err = fmt.Fprintf(out, "%s is an admin already\n", email)
		return err
	}
	_, err = fmt.Fprintf(out, "granted admin to %s; the admin API needs a login with a second factor unless AUTHD_ADMIN_REQUIRE_MFA=false\n", email)
	return err
}

func revokeAdmin(ctx context.Context, srv *server.Server, out io.Writer, email string) error {
	revoked, err := srv.RevokeAdmin(ctx, email)
	if err != nil {
		return fmt.Errorf("%s: %w", email, err)
	}
	if !revoked {
		_, err = fmt.Fprintf(out, "%s is not an admin\n", email)
		return err
	}
	_, err = fmt.Fprintf(out, "revoked admin from %s; the admin API refuses the account from its next request\n", email)
	return err
}

// credentialStep parses `authd admin credentials create|list|revoke`.
func credentialStep(cmd string, args []string) (adminRun, error) {
	usage := errors.New(adminUsage)
	switch cmd {
	case "create":
		fs := flag.NewFlagSet("authd admin credentials create", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		name := fs.String("name", "", "")
		scopes := fs.String("scopes", "", "")
		expires := fs.Duration("expires", 0, "")
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w\n%s", err, adminUsage)
		}
		if *name == "" || *scopes == "" || *expires < 0 || fs.NArg() != 0 {
			return nil, usage
		}
		return func(ctx context.Context, srv *server.Server, log *slog.Logger, out io.Writer) error {
			return createCredential(ctx, srv, log, out, *name, strings.Split(*scopes, ","), *expires)
		}, nil
	case "list":
		if len(args) != 0 {
			return nil, usage
		}
		return func(ctx context.Context, srv *server.Server, _ *slog.Logger, out io.Writer) error {
			return listCredentials(ctx, srv, out)
		}, nil
	case "revoke":
		if len(args) != 1 || args[0] == "" {
			return nil, usage
		}
		return func(ctx context.Context, srv *server.Server, log *slog.Logger, out io.Writer) error {
			cred, err := srv.RevokeServiceCredential(ctx, args[0])
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			log.Info("service credential revoked", "credential_id", cred.ID.String(), "name", cred.Name)
			_, err = fmt.Fprintf(out, "revoked service credential %s (%s); it is refused from its next request\n", cred.Name, cred.ID)
			return err
		}, nil
	}
	return nil, usage
}

// createCredential makes the credential and writes its token alone on out,
// so that `> file` or `$(...)` keeps exactly the secret; the rest goes to
// the log.
func createCredential(ctx context.Context, srv *server.Server, log *slog.Logger, out io.Writer, name string, scopes []string, ttl time.Duration) error {
	var expires time.Time
	if ttl > 0 {
		expires = time.Now().Add(ttl)
	}
	cred, token, err := srv.NewServiceCredential(ctx, name, scopes, expires)
	if database.IsUniqueViolation(err, "service_credentials_name_key") {
		return fmt.Errorf("a credential named %q exists already (revoked ones keep their name): pick another name", name)
	}
	if err != nil {
		return err
	}
	attrs := []any{"credential_id", cred.ID.String(), "name", cred.Name, "scopes", strings.Join(cred.Scopes, ",")}
	if cred.ExpiresAt != nil {
		attrs = append(attrs, "expires_at", cred.ExpiresAt.UTC().Format(time.RFC3339))
	}
	log.Info("service credential created; its token is printed once, store it now", attrs...)
	_, err = fmt.Fprintln(out, token)
	return err
}

// listCredentials writes one line per credential: never a secret or hash.
func listCredentials(ctx context.Context, srv *server.Server, out io.Writer) error {
	creds, err := srv.ServiceCredentials(ctx)
	if err != nil {
		return err
	}
	// The tabwriter buffers until Flush, which reports any write error.
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	_, _ = fmt.Fprintln(w, "NAME\tID\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tSTATE")
	now := time.Now()
	for _, c := range creds {
		_, _ = fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.Name, c.ID, strings.Join(c.Scopes, ","), when(&c.CreatedAt, ""),
			when(c.ExpiresAt, "never"), when(c.LastUsedAt, "never"), credentialState(c, now))
	}
	return w.Flush()
}

// when is t in UTC to the second, or none when t is nil.
func when(t *time.Time, none string) string {
	if t == nil {
		return none
	}
	return t.UTC().Format(time.RFC3339)
}

// credentialState is whether c is accepted now: active, revoked or expired.
func credentialState(c db.ServiceCredential, now time.Time) string {
	switch {
	case c.RevokedAt != nil:
		return "revoked"
	case c.ExpiresAt != nil && !now.Before(*c.ExpiresAt):
		return "expired"
	}
	return "active"
}
