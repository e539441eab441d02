package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/datakeys"
	"github.com/authd/authd/server/mfa"
)

const dataKeysUsage = `usage: authd datakeys COMMAND [-file FILE] [-force] [-batch N] [KID]   (flags first; FILE defaults to AUTHD_DATA_KEYS_FILE)
  generate     write a new data key set to FILE (mode 0600) with one primary key
  list         show each key's kid and status: primary (seals) or decrypt (opens only)
  add          rotation step 1: add a new primary key; the old primary only decrypts
  rewrap       rotation step 2: re-encrypt every TOTP secret not under the primary,
               N at a time (default 500); needs DATABASE_URL
  remove KID   rotation step 3: delete a decrypt-only key, refused while a TOTP secret
               is still sealed with it (-force removes it without looking)`

// rewrapBatch is how many factor secrets rewrap reads at a time.
const rewrapBatch = 500

// dataKeysCommand runs `authd datakeys ...`: the data key file and each step
// of its rotation, so that nobody edits secrets in JSON by hand.
func dataKeysCommand(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(dataKeysUsage)
	}
	cmd := args[0]
	fs := flag.NewFlagSet("authd datakeys "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("file", cfg.DataKeysFile, "")
	force := fs.Bool("force", false, "")
	batch := fs.Int("batch", rewrapBatch, "")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w\n%s", err, dataKeysUsage)
	}
	arg := fs.Arg(0)
	batchSet := false
	fs.Visit(func(f *flag.Flag) { batchSet = batchSet || f.Name == "batch" })
	switch {
	case *file == "", fs.NArg() > 1,
		*force && cmd != "remove",
		batchSet && (cmd != "rewrap" || *batch < 1),
		(cmd == "remove") != (arg != ""):
		return errors.New(dataKeysUsage)
	}
	if cmd == "generate" {
		return generateDataKeyFile(*file, out)
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	switch cmd {
	case "list":
		return listDataKeys(data, out)
	case "add":
		next, kid, err := datakeys.Add(data)
		if err != nil {
			return err
		}
		if err := writeKeyFile(*file, next, false); err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "added %s as the primary key: new TOTP secrets are sealed with it.\n"+
			"Next: restart every instance (until then an instance that does not know %s cannot open what the others seal), then: authd datakeys rewrap\n", kid, kid)
		return err
	case "rewrap":
		ring, err := datakeys.Parse(data)
		if err != nil {
			return err
		}
		return withFactorQueries(ctx, cfg, "rewrap", func(q *db.Queries) error {
			return rewrapFactorSecrets(ctx, q, ring, *batch, out)
		})
	case "remove":
		next, err := datakeys.Remove(data, arg)
		if err != nil {
			return err
		}
		if !*force {
			err = withFactorQueries(ctx, cfg, "look for TOTP secrets sealed with "+arg, func(q *db.Queries) error {
				n, err := q.CountFactorSecretsUnder(ctx, arg)
				if err == nil && n > 0 {
					err = fmt.Errorf("%d TOTP secret(s) are sealed with %s and could never be opened without it: "+
						"run authd datakeys rewrap first, or remove the key anyway with -force", n, arg)
				}
				return err
			})
			if err != nil {
				return err
			}
		}
		if err := writeKeyFile(*file, next, false); err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "removed %s. Restart every instance.\n", arg)
		return err
	default:
		return fmt.Errorf("unknown datakeys command %q\n%s", cmd, dataKeysUsage)
	}
}

func generateDataKeyFile(path string, out io.Writer) error {
	set, err := datakeys.Generate()
	if err != nil {
		return err
	}
	ring, err := datakeys.Parse(set)
	if err != nil {
		return err
	}
	if err := writeKeyFile(path, set, true); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "wrote %s (mode 0600): key %s is primary\n", path, ring.Primary())
	return err
}

func listDataKeys(data []byte, out io.Writer) error {
	ring, err := datakeys.Parse(data)
	if err != nil {
		return err
	}
	for _, kid := range ring.Kids() {
		status := datakeys.StatusDecrypt
		if kid == ring.Primary() {
			status = datakeys.StatusPrimary
		}
		if _, err := fmt.Fprintf(out, "%-32s %s\n", kid, status); err != nil {
			return err
		}
	}
	return nil
}

// withFactorQueries opens a small pool on DATABASE_URL for f.
func withFactorQueries(ctx context.Context, cfg config.Config, what string, f func(*db.Queries) error) error {
	pool, err := database.Open(ctx, cfg.DatabaseURL, 2, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer pool.Close()
	if err := f(db.New(pool)); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// rewrapFactorSecrets re-seals, batch rows at a time, every factor secret
// not sealed with the primary key. A row that changed since it was read
// (deleted, or rewrapped by another run) is left as it is. A secret that does
// not open (its key is not in the file, or the row was tampered with) is
// skipped and counted, and rewrap then fails: the key it needs must stay
// until an operator has dealt with it.
func rewrapFactorSecrets(ctx context.Context, q *db.Queries, ring *datakeys.Ring, batch int, out io.Writer) error {
	primary := ring.Primary()
	failed := map[uuid.UUID]string{} // factor id: why
	var rewrapped, changed int64
	for {
		// Rows that failed come back with every batch (the query lists all
		// rows not under the primary, by id): read past them.
		limit := min(batch+len(failed), math.MaxInt32)
		rows, err := q.ListFactorSecretsNotUnder(ctx, db.ListFactorSecretsNotUnderParams{Kid: primary, MaxRows: int32(limit)}) //nolint:gosec // G115: limit is at most MaxInt32
		if err != nil {
			return fmt.Errorf("after %d rewrapped: %w", rewrapped, err)
		}
		progress := false
		for _, row := range rows {
			if _, ok := failed[row.ID]; ok {
				continue
			}
			progress = true
			plain, err := ring.Open(row.SecretKid, row.SecretSealed, mfa.SecretAAD(row.ID, row.UserID))
			if err != nil {
				failed[row.ID] = err.Error()
				continue
			}
			kid, sealed := ring.Seal(plain, mfa.SecretAAD(row.ID, row.UserID))
			clear(plain)
			n, err := q.RewrapFactorSecret(ctx, db.RewrapFactorSecretParams{ID: row.ID, OldKid: row.SecretKid, SecretKid: kid, SecretSealed: sealed})
			if err != nil {
				return fmt.Errorf("after %d rewrapped: %w", rewrapped, err)
			}
			rewrapped += n
			changed += 1 - n
		}
		if !progress {
			break
		}
	}
	if _, err := fmt.Fprintf(out, "rewrapped %d TOTP secret(s) to %s", rewrapped, primary); err != nil {
		return err
	}
	if changed > 0 {
		_, _ = fmt.Fprintf(out, "; %d changed meanwhile and were left as they are", changed)
	}
	_, _ = fmt.Fprintln(out)
	if len(failed) > 0 {
		var lines []string
		for id, why := range failed {
			lines = append(lines, fmt.Sprintf("  factor %s: %s", id, why))
		}
		return fmt.Errorf("%d TOTP secret(s) could not be opened and stay as they are (restore the key they need, or delete the factors: their users fall back to recovery codes):\n%s",
			len(failed), strings.Join(lines, "\n"))
	}
	return nil
}
