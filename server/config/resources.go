package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/server/datakeys"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/token"
)

// validateResources reads what the settings point at (the keys file, the
// mail templates) and parses the URLs as their clients will, so that a bad
// one stops authd in the same report, before any database work.
func (c Config) validateResources() []error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if c.JWTKeysFile != "" {
		if data, err := os.ReadFile(c.JWTKeysFile); err != nil {
			fail("AUTHD_JWT_KEYS_FILE", "cannot be read: %v", err)
		} else if len(bytes.TrimSpace(data)) == 0 {
			fail("AUTHD_JWT_KEYS_FILE", "%s is empty; create it with `authd keys generate`", c.JWTKeysFile)
		} else if _, err := token.ParseKeys(data); err != nil {
			fail("AUTHD_JWT_KEYS_FILE", "%s is not a JWK set of private keys as `authd keys generate` writes: %v", c.JWTKeysFile, err)
		}
	}
	if c.DataKeysFile != "" {
		if data, err := os.ReadFile(c.DataKeysFile); err != nil {
			fail("AUTHD_DATA_KEYS_FILE", "cannot be read: %v", err)
		} else if len(bytes.TrimSpace(data)) == 0 {
			fail("AUTHD_DATA_KEYS_FILE", "%s is empty; create it with `authd datakeys generate`", c.DataKeysFile)
		} else if _, err := datakeys.Parse(data); err != nil {
			fail("AUTHD_DATA_KEYS_FILE", "%s is not a data key set as `authd datakeys generate` writes: %v", c.DataKeysFile, err)
		}
	}
	if c.RedisURL != "" {
		if _, err := redis.ParseURL(c.RedisURL); err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // url.Error quotes the whole URL, password included
			}
			fail("REDIS_URL", "%s in %q (allowed: redis://[user:password@]host:port/db or rediss://...)", scrub(err.Error(), c.RedisURL), redact(c.RedisURL))
		}
	}
	if c.SMTPURL != "" {
		// The sender is made here only to see that it can be: nothing dials.
		if _, err := mail.NewSMTP(c.SMTPURL, c.MailFrom, time.Second); err != nil {
			fail("AUTHD_SMTP_URL", "%s in %q", scrub(strings.TrimPrefix(err.Error(), "AUTHD_SMTP_URL "), c.SMTPURL), redact(c.SMTPURL))
		}
	}
	if dir := c.MailTemplatesDir; dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			fail("AUTHD_MAIL_TEMPLATES_DIR", "%q is not a directory", dir)
		} else if _, err := mail.NewRenderer(dir); err != nil {
			fail("AUTHD_MAIL_TEMPLATES_DIR", "%v", err)
		}
	}
	return errs
}
