package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/token"
)

const keysUsage = `usage: authd keys COMMAND [-file FILE] [ARG]   (flags first; FILE defaults to AUTHD_JWT_KEYS_FILE)
  generate [ALG]   write a new key set to FILE (mode 0600); ALG is EdDSA, ES256 or RS256
  list             show each key: signing, active, verify-only or retired
  add [ALG]        rotation step 1: add a new key, published but not signing
  promote KID      rotation step 2: KID signs; the key that signed stays accepted
  retire KID       rotation step 3: KID is no longer published or accepted; it still opens mail
  remove KID       rotation step 4: delete a retired key, refused while the outbox holds mail
                   sealed with it (-force removes it without looking)`

// keysCommand runs `authd keys ...`: each step of a key rotation as an edit
// of the key file, so that nobody merges JSON by hand.
func keysCommand(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(keysUsage)
	}
	cmd := args[0]
	fs := flag.NewFlagSet("authd keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("file", cfg.JWTKeysFile, "")
	force := fs.Bool("force", false, "")
	if err := fs.Parse(args[1:]); err != nil {
		return fmt.Errorf("%w\n%s", err, keysUsage)
	}
	arg, extra := fs.Arg(0), fs.NArg() > 1
	if *file == "" || extra || (*force && cmd != "remove") || (cmd == "list" && arg != "") {
		return errors.New(keysUsage)
	}
	needKid := cmd == "promote" || cmd == "retire" || cmd == "remove"
	if needKid && arg == "" {
		return errors.New(keysUsage)
	}
	if cmd == "generate" || cmd == "add" {
		if arg == "" {
			arg = cfg.JWTAlgorithm
		}
	}
	if cmd == "generate" {
		return generateKeyFile(*file, arg, out)
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	var next []byte
	var say string
	switch cmd {
	case "list":
		return listKeys(data, out)
	case "add":
		var kid string
		next, kid, err = token.AddKey(data, arg)
		say = fmt.Sprintf("added %s (%s) as verify-only: published and accepted, not signing.\n"+
			"Next: restart every instance, wait at least %s after the last restart (the JWKS max-age), then: authd keys promote %s",
			kid, arg, server.JWKSMaxAge, kid)
	case "promote":
		var before *token.Keys
		if before, err = token.ParseKeys(data); err == nil {
			next, err = token.PromoteKey(data, arg)
		}
		if err == nil {
			say = fmt.Sprintf("%s signs now; %s, which signed, stays accepted.\n"+
				"Next: restart every instance, wait at least the access-token lifetime plus the leeway (%s + %s) after the last restart, then: authd keys retire %s",
				arg, before.Signer(), cfg.AccessTokenTTL, cfg.JWTLeeway, before.Signer())
		}
	case "retire":
		next, err = token.RetireKey(data, arg)
		say = fmt.Sprintf("retired %s: no longer published or accepted; it still opens mail sealed with it.\n"+
			"Next: restart every instance; once the outbox holds no mail sealed with it: authd keys remove %s", arg, arg)
	case "remove":
		if next, err = token.RemoveKey(data, arg); err == nil && !*force {
			err = checkNoMailSealedWith(ctx, cfg, data, arg)
		}
		say = fmt.Sprintf("removed %s. Restart every instance.", arg)
	default:
		return fmt.Errorf("unknown keys command %q\n%s", cmd, keysUsage)
	}
	if err != nil {
		return err
	}
	if err := writeKeyFile(*file, next, false); err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, say)
	return err
}

func generateKeyFile(path, alg string, out io.Writer) error {
	set, err := token.GenerateSet(alg)
	if err != nil {
		return err
	}
	keys, err := token.ParseKeys(set)
	if err != nil {
		return err
	}
	if err := writeKeyFile(path, set, true); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "wrote %s (mode 0600): key %s (%s) signs\n", path, keys.Signer(), alg)
	return err
}

func listKeys(data []byte, out io.Writer) error {
	keys, err := token.ParseKeys(data)
	if err != nil {
		return err
	}
	for _, k := range keys.List() {
		if _, err := fmt.Fprintf(out, "%-32s %-6s %s\n", k.Kid, k.Alg, k.Status); err != nil {
			return err
		}
	}
	return nil
}

// checkNoMailSealedWith refuses while mail not yet sent (pending, or dead
// until requeued or pruned) was sealed with kid: without the key it could
// never be sent.
func checkNoMailSealedWith(ctx context.Context, cfg config.Config, file []byte, kid string) error {
	keys, err := token.ParseKeys(file)
	if err != nil {
		return err
	}
	sealer, err := mail.NewSealer(keys.Secrets(mail.SecretLabel))
	if err != nil {
		return err
	}
	pool, err := database.Open(ctx, cfg.DatabaseURL, 2, nil)
	if err != nil {
		return fmt.Errorf("look for mail sealed with %s: %w", kid, err)
	}
	defer pool.Close()
	n, err := mail.CountSealedWith(ctx, db.New(pool), sealer, kid)
	if err != nil {
		return fmt.Errorf("look for mail sealed with %s: %w", kid, err)
	}
	if n > 0 {
		return fmt.Errorf("%d mail(s) in the outbox were sealed with %s and would never be sent without it: "+
			"keep the key until they are sent (dead mail: authd mail requeue, or wait for the prune), or remove it anyway with -force", n, kid)
	}
	return nil
}

// writeKeyFile writes a key file with mode 0600: a new one only where none
// is, an edited one by renaming a complete copy over it, so that an
// instance starting meanwhile reads the old file or the new, never half of
// one. The copy keeps the owner of the file it replaces.
func writeKeyFile(path string, data []byte, create bool) error {
	if create {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = f.Write(data)
		return errors.Join(err, f.Sync(), f.Close())
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".authd-keys-*") // mode 0600
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // after the rename, there is nothing to remove
	_, err = tmp.Write(data)
	if err = errors.Join(err, tmp.Chmod(0o600), tmp.Sync(), tmp.Close()); err != nil {
		return err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		if err := os.Chown(tmp.Name(), int(st.Uid), int(st.Gid)); err != nil {
			return fmt.Errorf("keep the owner of %s: %w", path, err)
		}
	}
	return os.Rename(tmp.Name(), path)
}
