// Package config parses and validates authd's configuration once, at start.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/authd/authd/server/clientip"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/ratelimit"
)

// roleName is the shape of a role (the spec's Role schema).
var roleName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// Environments authd knows; production refuses unsafe defaults.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// Config is every setting of authd. Each field is named after its variable
// (without the AUTHD_ prefix: ShutdownTimeout is AUTHD_SHUTDOWN_TIMEOUT);
// .env.example documents them all.
type Config struct {
	// Env is production unless development is asked for explicitly.
	Env         string `env:"AUTHD_ENV" envDefault:"production"`
	Addr        string `env:"AUTHD_ADDR" envDefault:":8080"`
	MetricsAddr string `env:"AUTHD_METRICS_ADDR"`
	// TLSCertFile and TLSKeyFile (both or neither) make AUTHD_ADDR serve
	// HTTPS; the pair is reloaded when the files change.
	TLSCertFile string `env:"AUTHD_TLS_CERT_FILE"`
	TLSKeyFile  string `env:"AUTHD_TLS_KEY_FILE"`
	// PublicMetrics also serves /metrics on AUTHD_ADDR, in development too.
	PublicMetrics bool `env:"AUTHD_PUBLIC_METRICS" envDefault:"false"`
	// Pprof serves net/http/pprof on the private listener, for profiling.
	Pprof bool `env:"AUTHD_PPROF" envDefault:"false"`
	// AuditRetention is how long security events (GET /users/me/events) are kept.
	AuditRetention time.Duration `env:"AUTHD_AUDIT_RETENTION" envDefault:"2160h"`

	// Standard OpenTelemetry variables that switch tracing on; the OTLP
	// exporter reads the rest of OTEL_EXPORTER_OTLP_* itself.
	OTelTracesExporter             string `env:"OTEL_TRACES_EXPORTER"`
	OTelExporterOTLPEndpoint       string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	OTelExporterOTLPTracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	DatabaseURL                    string `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/authd?sslmode=disable"`
	LogLevel                       string `env:"AUTHD_LOG_LEVEL" envDefault:"info"`
	AutoMigrate                    bool   `env:"AUTHD_AUTO_MIGRATE" envDefault:"true"`

	JWTKeysFile string `env:"AUTHD_JWT_KEYS_FILE"`
	// DataKeysFile is the data-encryption key set that seals TOTP secrets
	// (server/datakeys); development without it uses a fixed, public key.
	DataKeysFile   string        `env:"AUTHD_DATA_KEYS_FILE"`
	JWTAlgorithm   string        `env:"AUTHD_JWT_ALGORITHM" envDefault:"EdDSA"`
	JWTIssuer      string        `env:"AUTHD_JWT_ISSUER" envDefault:"authd"`
	JWTAudience    string        `env:"AUTHD_JWT_AUDIENCE" envDefault:"authd"`
	JWTLeeway      time.Duration `env:"AUTHD_JWT_LEEWAY" envDefault:"30s"`
	AccessTokenTTL time.Duration `env:"AUTHD_ACCESS_TOKEN_TTL" envDefault:"15m"`
	SessionTTL     time.Duration `env:"AUTHD_SESSION_TTL" envDefault:"720h"`
	// RefreshRetryWindow bounds how long a client whose refresh answer was
	// lost may retry its token and get the same, still unused, successor.
	RefreshRetryWindow time.Duration `env:"AUTHD_REFRESH_RETRY_WINDOW" envDefault:"5m"`
	// MaxSessionsPerUser caps live sessions; a login beyond it ends the oldest.
	MaxSessionsPerUser int `env:"AUTHD_MAX_SESSIONS_PER_USER" envDefault:"100"`

	// Second factor. StepUpMaxAge is how recent an authentication the
	// sensitive operations need; RequireMFA makes a login without a factor
	// enrol one first. TOTPIssuer and TOTPAccountLabel ({email} is filled
	// in) name the account in authenticator apps.
	StepUpMaxAge     time.Duration `env:"AUTHD_STEP_UP_MAX_AGE" envDefault:"10m"`
	RequireMFA       bool          `env:"AUTHD_REQUIRE_MFA" envDefault:"false"`
	MFAChallengeTTL  time.Duration `env:"AUTHD_MFA_CHALLENGE_TTL" envDefault:"5m"`
	TOTPIssuer       string        `env:"AUTHD_TOTP_ISSUER" envDefault:"authd"`
	TOTPAccountLabel string        `env:"AUTHD_TOTP_ACCOUNT_LABEL" envDefault:"{email}"`

	// Administration. AdminRequireMFA makes the admin API refuse a person
	// whose token lacks aal 2; Roles are the roles besides admin that
	// relying services use (PATCH /admin/users/{id} accepts only these);
	// InviteTTL is how long an invitation's set-password link works.
	AdminRequireMFA bool          `env:"AUTHD_ADMIN_REQUIRE_MFA" envDefault:"true"`
	Roles           []string      `env:"AUTHD_ROLES" envSeparator:","`
	InviteTTL       time.Duration `env:"AUTHD_INVITE_TTL" envDefault:"72h"`

	// Passkeys (WebAuthn): the relying party's id (a registrable domain of
	// every origin), its name as authenticators show it, and the origins
	// the browser pages that use passkeys are served from.
	WebAuthnRPID    string   `env:"AUTHD_WEBAUTHN_RP_ID" envDefault:"localhost"`
	WebAuthnRPName  string   `env:"AUTHD_WEBAUTHN_RP_NAME" envDefault:"authd"`
	WebAuthnOrigins []string `env:"AUTHD_WEBAUTHN_ORIGINS" envSeparator:"," envDefault:"http://localhost:8080"`
	// ExampleDir is where the built example page (examples/web, `make
	// example`) is, served at /example/ in development only.
	ExampleDir string `env:"AUTHD_EXAMPLE_DIR" envDefault:"examples/web/dist"`

	// Federated login (OpenID Connect): the providers' names, each set by
	// AUTHD_OIDC_<NAME>_* variables (read into OIDC by Load); whether a first
	// login may create an account; the application URLs a login returns
	// to, matched exactly.
	OIDCProviders []string `env:"AUTHD_OIDC_PROVIDERS" envSeparator:","`
	OIDCSignup    bool     `env:"AUTHD_OIDC_SIGNUP" envDefault:"true"`
	RedirectURLs  []string `env:"AUTHD_REDIRECT_URLS" envSeparator:","`
	// OIDC are the providers of OIDCProviders with their settings. Their
	// variables' names hold the provider's, so Load reads them itself.
	OIDC []OIDCProvider `env:"-"`

	// PasswordHash names the algorithm new hashes use: argon2id or bcrypt.
	PasswordHash    string `env:"AUTHD_PASSWORD_HASH" envDefault:"argon2id"`
	Argon2MemoryKiB uint32 `env:"AUTHD_ARGON2_MEMORY_KIB" envDefault:"19456"`
	Argon2Time      uint32 `env:"AUTHD_ARGON2_TIME" envDefault:"2"`
	Argon2Threads   uint8  `env:"AUTHD_ARGON2_THREADS" envDefault:"1"`
	BcryptCost      int    `env:"AUTHD_BCRYPT_COST" envDefault:"12"`
	// HashConcurrency caps simultaneous hashes; 0 means GOMAXPROCS + 1.
	HashConcurrency int           `env:"AUTHD_HASH_CONCURRENCY" envDefault:"0"`
	HashMaxWait     time.Duration `env:"AUTHD_HASH_MAX_WAIT" envDefault:"1s"`

	CORSOrigins     []string      `env:"AUTHD_CORS_ORIGINS" envSeparator:","`
	TrustedProxies  []string      `env:"AUTHD_TRUSTED_PROXIES" envSeparator:","`
	ForwardedHeader string        `env:"AUTHD_FORWARDED_HEADER" envDefault:"X-Forwarded-For"`
	RequestTimeout  time.Duration `env:"AUTHD_REQUEST_TIMEOUT" envDefault:"10s"`
	ShutdownTimeout time.Duration `env:"AUTHD_SHUTDOWN_TIMEOUT" envDefault:"15s"`

	PasswordPolicy string `env:"AUTHD_PASSWORD_POLICY" envDefault:"default"`

	RateLimitEnabled      bool            `env:"AUTHD_RATE_LIMIT_ENABLED" envDefault:"true"`
	RedisURL              string          `env:"REDIS_URL"`
	RateLimitRegister     ratelimit.Limit `env:"AUTHD_RATE_LIMIT_REGISTER" envDefault:"20/1h"`
	RateLimitLogin        ratelimit.Limit `env:"AUTHD_RATE_LIMIT_LOGIN" envDefault:"10/1m"`
	RateLimitLoginIP      ratelimit.Limit `env:"AUTHD_RATE_LIMIT_LOGIN_IP" envDefault:"100/1m"`
	RateLimitRefresh      ratelimit.Limit `env:"AUTHD_RATE_LIMIT_REFRESH" envDefault:"60/1m"`
	RateLimitFailedLogins ratelimit.Limit `env:"AUTHD_RATE_LIMIT_FAILED_LOGINS" envDefault:"100/1h"`
	LoginBackoffAfter     int             `env:"AUTHD_LOGIN_BACKOFF_AFTER" envDefault:"5"`
	LoginBackoffBase      time.Duration   `env:"AUTHD_LOGIN_BACKOFF_BASE" envDefault:"1s"`
	LoginBackoffMax       time.Duration   `env:"AUTHD_LOGIN_BACKOFF_MAX" envDefault:"15m"`

	PublicURL            string          `env:"AUTHD_PUBLIC_URL" envDefault:"http://localhost:8080"`
	MailLinkTemplate     string          `env:"AUTHD_MAIL_LINK_TEMPLATE" envDefault:"{public_url}/{action}?token={token}"`
	RequireVerifiedEmail bool            `env:"AUTHD_REQUIRE_VERIFIED_EMAIL" envDefault:"false"`
	VerifyEmailTTL       time.Duration   `env:"AUTHD_VERIFY_EMAIL_TTL" envDefault:"24h"`
	PasswordResetTTL     time.Duration   `env:"AUTHD_PASSWORD_RESET_TTL" envDefault:"1h"`
	EmailChangeTTL       time.Duration   `env:"AUTHD_EMAIL_CHANGE_TTL" envDefault:"24h"`
	SMTPURL              string          `env:"AUTHD_SMTP_URL"`
	MailFrom             string          `env:"AUTHD_MAIL_FROM" envDefault:"authd <no-reply@localhost>"`
	MailTemplatesDir     string          `env:"AUTHD_MAIL_TEMPLATES_DIR"`
	MailMaxAttempts      int             `env:"AUTHD_MAIL_MAX_ATTEMPTS" envDefault:"12"`
	MailRetryBase        time.Duration   `env:"AUTHD_MAIL_RETRY_BASE" envDefault:"30s"`
	MailRetryMax         time.Duration   `env:"AUTHD_MAIL_RETRY_MAX" envDefault:"1h"`
	MailPollInterval     time.Duration   `env:"AUTHD_MAIL_POLL_INTERVAL" envDefault:"1s"`
	MailThrottle         ratelimit.Limit `env:"AUTHD_MAIL_THROTTLE" envDefault:"1/1m"`
	RateLimitMailIP      ratelimit.Limit `env:"AUTHD_RATE_LIMIT_MAIL_IP" envDefault:"20/1h"`
	RateLimitMailAddress ratelimit.Limit `env:"AUTHD_RATE_LIMIT_MAIL_ADDRESS" envDefault:"5/1h"`
	RateLimitToken       ratelimit.Limit `env:"AUTHD_RATE_LIMIT_TOKEN" envDefault:"30/1m"`

	DBMaxConns       int32         `env:"AUTHD_DB_MAX_CONNS" envDefault:"10"`
	DBQueryTimeout   time.Duration `env:"AUTHD_DB_QUERY_TIMEOUT" envDefault:"3s"`
	BreakerFailures  uint          `env:"AUTHD_BREAKER_FAILURES" envDefault:"5"`
	BreakerOpenFor   time.Duration `env:"AUTHD_BREAKER_OPEN_FOR" envDefault:"10s"`
	BreakerSuccesses uint          `env:"AUTHD_BREAKER_SUCCESSES" envDefault:"2"`
}

// Load parses the environment given as a map and validates the result,
// reporting every problem at once, one line each. Its environment is
// environ alone: a nil map is an empty environment, never the process's (only
// cmd/ reads that). It does read the files the settings name (keys, TLS,
// mail templates), so that nothing found later stops authd after the
// database was touched.
func Load(environ map[string]string) (Config, error) {
	if environ == nil {
		environ = map[string]string{} // the parser would fall back to os.Environ
	}
	cfg, errs, _ := parse(environ)
	for i, u := range cfg.RedirectURLs {
		cfg.RedirectURLs[i] = strings.TrimSpace(u)
	}
	var oidcErrs []error
	cfg.OIDC, oidcErrs = oidcProviders(environ, cfg.OIDCProviders, cfg.Development())
	errs = append(append(errs, oidcErrs...), cfg.validate()...)
	if _, ok := environ["AUTHD_REFRESH_GRACE"]; ok {
		errs = append(errs, errors.New("AUTHD_REFRESH_GRACE: replaced by AUTHD_REFRESH_RETRY_WINDOW (default 5m); rename it"))
	}
	return cfg, errors.Join(errs...)
}

// Development reports whether authd runs with development conveniences.
func (c Config) Development() bool { return c.Env == EnvDevelopment }

// TracingEnabled reports whether the OTEL_* variables configure an exporter:
// otlp explicitly, or an OTLP endpoint unless the exporter is none.
func (c Config) TracingEnabled() bool {
	return c.OTelTracesExporter == "otlp" ||
		(c.OTelTracesExporter == "" && (c.OTelExporterOTLPEndpoint != "" || c.OTelExporterOTLPTracesEndpoint != ""))
}

// TLSEnabled reports whether AUTHD_ADDR serves HTTPS.
func (c Config) TLSEnabled() bool { return c.TLSCertFile != "" && c.TLSKeyFile != "" }

// HashSlots is how many password hashes may run at once: by default one
// more than GOMAXPROCS. A slot is idle while the collector frees its last
// hash's memory for the next (password.Hasher keeps memory bounded so);
// the extra slot keeps every processor hashing meanwhile.
func (c Config) HashSlots() uint {
	if c.HashConcurrency == 0 {
		return uint(runtime.GOMAXPROCS(0)) + 1
	}
	return uint(c.HashConcurrency)
}

// SlogLevel is the configured log level.
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel)) // validated in validate
	return l
}

func (c Config) validate() []error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	if c.Env != EnvDevelopment && c.Env != EnvProduction {
		fail("AUTHD_ENV", "must be %q or %q, got %q", EnvDevelopment, EnvProduction, c.Env)
	}
	if err := validateDatabaseURL(c.DatabaseURL); err != nil {
		errs = append(errs, err)
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		fail("AUTHD_LOG_LEVEL", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.JWTAlgorithm {
	case "EdDSA", "ES256", "RS256":
	default:
		fail("AUTHD_JWT_ALGORITHM", "must be EdDSA, ES256 or RS256, got %q", c.JWTAlgorithm)
	}
	if c.Env == EnvProduction && c.JWTKeysFile == "" {
		fail("AUTHD_JWT_KEYS_FILE", "is required in production (generate one with `authd keys generate`)")
	}
	if c.Env == EnvProduction && c.JWTKeysFile != "" {
		// The private keys sign every token: other local users must not read
		// them. Whether they read at all is validateResources's.
		if fi, err := os.Stat(c.JWTKeysFile); err == nil {
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				fail("AUTHD_JWT_KEYS_FILE", "%s is readable or writable by group or others (mode %04o); run chmod 600 on it", c.JWTKeysFile, perm)
			}
		}
	}
	if c.Env == EnvProduction && c.DataKeysFile == "" {
		fail("AUTHD_DATA_KEYS_FILE", "is required in production (generate one with `authd datakeys generate`)")
	}
	if c.Env == EnvProduction && c.DataKeysFile != "" {
		// The keys open every TOTP secret: other local users must not read them.
		if fi, err := os.Stat(c.DataKeysFile); err == nil {
			if perm := fi.Mode().Perm(); perm&0o077 != 0 {
				fail("AUTHD_DATA_KEYS_FILE", "%s is readable or writable by group or others (mode %04o); run chmod 600 on it", c.DataKeysFile, perm)
			}
		}
	}
	errs = append(errs, c.validateTLS()...)
	errs = append(errs, c.validateResources()...)
	if strings.TrimSpace(c.JWTIssuer) == "" {
		fail("AUTHD_JWT_ISSUER", "must not be empty")
	}
	if strings.TrimSpace(c.JWTAudience) == "" {
		fail("AUTHD_JWT_AUDIENCE", "must not be empty")
	}
	if c.AccessTokenTTL < time.Minute || c.AccessTokenTTL > 24*time.Hour {
		fail("AUTHD_ACCESS_TOKEN_TTL", "must be between 1m and 24h, got %s", c.AccessTokenTTL)
	}
	if c.SessionTTL < c.AccessTokenTTL {
		fail("AUTHD_SESSION_TTL", "must be at least AUTHD_ACCESS_TOKEN_TTL, got %s", c.SessionTTL)
	}
	if c.RefreshRetryWindow < 0 || c.RefreshRetryWindow > time.Hour {
		fail("AUTHD_REFRESH_RETRY_WINDOW", "must be between 0s and 1h, got %s", c.RefreshRetryWindow)
	}
	if c.MaxSessionsPerUser < 1 || c.MaxSessionsPerUser > 100 {
		fail("AUTHD_MAX_SESSIONS_PER_USER", "must be between 1 and 100 (GET /users/me/sessions lists 100), got %d", c.MaxSessionsPerUser)
	}
	if c.StepUpMaxAge < time.Minute || c.StepUpMaxAge > 24*time.Hour {
		fail("AUTHD_STEP_UP_MAX_AGE", "must be between 1m and 24h, got %s", c.StepUpMaxAge)
	}
	for _, r := range c.Roles {
		if !roleName.MatchString(r) || r == "admin" {
			fail("AUTHD_ROLES", "each role must match %s and not be admin (built in), got %q", roleName, r)
		}
	}
	if c.InviteTTL < time.Hour || c.InviteTTL > 30*24*time.Hour {
		fail("AUTHD_INVITE_TTL", "must be between 1h and 720h, got %s", c.InviteTTL)
	}
	if c.MFAChallengeTTL < time.Minute || c.MFAChallengeTTL > 15*time.Minute {
		fail("AUTHD_MFA_CHALLENGE_TTL", "must be between 1m and 15m, got %s", c.MFAChallengeTTL)
	}
	// otpauth:// labels are "issuer:account": a colon would shift the split.
	if c.TOTPIssuer == "" || len(c.TOTPIssuer) > 64 || strings.Contains(c.TOTPIssuer, ":") {
		fail("AUTHD_TOTP_ISSUER", "must be 1 to 64 characters without a colon, got %q", c.TOTPIssuer)
	}
	if c.TOTPAccountLabel == "" || len(c.TOTPAccountLabel) > 128 || strings.Contains(c.TOTPAccountLabel, ":") {
		fail("AUTHD_TOTP_ACCOUNT_LABEL", "must be 1 to 128 characters without a colon ({email} is the address), got %q", c.TOTPAccountLabel)
	}
	errs = append(errs, c.validateWebAuthn()...)
	errs = append(errs, c.validateOIDC()...)
	if c.Development() && c.ExampleDir != "" {
		if fi, err := os.Stat(c.ExampleDir); err == nil && !fi.IsDir() {
			fail("AUTHD_EXAMPLE_DIR", "must be a directory (the built example page), got the file %q", c.ExampleDir)
		}
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		fail("AUTHD_JWT_LEEWAY", "must be between 0s and 5m, got %s", c.JWTLeeway)
	}
	switch c.PasswordHash {
	case "argon2id":
		// The maxima are what the hasher will verify: a larger hash could
		// never be checked.
		if c.Argon2MemoryKiB < 8*1024 || c.Argon2MemoryKiB > password.MaxArgonMemoryKiB {
			fail("AUTHD_ARGON2_MEMORY_KIB", "must be between 8192 and %d, got %d", password.MaxArgonMemoryKiB, c.Argon2MemoryKiB)
		}
		if c.Argon2Time < 1 || c.Argon2Time > password.MaxArgonTime {
			fail("AUTHD_ARGON2_TIME", "must be between 1 and %d, got %d", password.MaxArgonTime, c.Argon2Time)
		}
		if c.Argon2Threads < 1 || c.Argon2Threads > password.MaxArgonThreads {
			fail("AUTHD_ARGON2_THREADS", "must be between 1 and %d, got %d", password.MaxArgonThreads, c.Argon2Threads)
		}
	case "bcrypt":
		if c.BcryptCost < 10 || c.BcryptCost > password.MaxBcryptCost {
			fail("AUTHD_BCRYPT_COST", "must be between 10 and %d, got %d", password.MaxBcryptCost, c.BcryptCost)
		}
	default:
		fail("AUTHD_PASSWORD_HASH", "must be argon2id or bcrypt, got %q", c.PasswordHash)
	}
	if c.HashConcurrency < 0 {
		fail("AUTHD_HASH_CONCURRENCY", "must be 0 (GOMAXPROCS) or more, got %d", c.HashConcurrency)
	}
	if c.HashMaxWait < 0 || c.HashMaxWait > c.RequestTimeout {
		fail("AUTHD_HASH_MAX_WAIT", "must be between 0s and AUTHD_REQUEST_TIMEOUT (%s), got %s", c.RequestTimeout, c.HashMaxWait)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail("AUTHD_PUBLIC_URL", "must be an absolute http(s) URL, got %q", c.PublicURL)
	}
	if c.Env == EnvProduction && !strings.HasPrefix(c.PublicURL, "https://") {
		fail("AUTHD_PUBLIC_URL", "must be an https URL in production (mail links carry tokens)")
	}
	if !strings.Contains(c.MailLinkTemplate, "{token}") {
		fail("AUTHD_MAIL_LINK_TEMPLATE", "must contain {token}")
	}
	// The links carry tokens: judge the template as filled in, whatever its
	// placeholders.
	link := strings.NewReplacer("{public_url}", strings.TrimRight(c.PublicURL, "/"), "{action}", "verify-email", "{token}", "t").Replace(c.MailLinkTemplate)
	if u, err := url.Parse(link); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail("AUTHD_MAIL_LINK_TEMPLATE", "must give an absolute http(s) URL, got %q", c.MailLinkTemplate)
	} else if c.Env == EnvProduction && u.Scheme != "https" {
		fail("AUTHD_MAIL_LINK_TEMPLATE", "must give an https URL in production (mail links carry tokens), got %q", c.MailLinkTemplate)
	}
	for name, ttl := range map[string]time.Duration{"AUTHD_VERIFY_EMAIL_TTL": c.VerifyEmailTTL, "AUTHD_PASSWORD_RESET_TTL": c.PasswordResetTTL, "AUTHD_EMAIL_CHANGE_TTL": c.EmailChangeTTL} {
		if ttl < time.Minute || ttl > 30*24*time.Hour {
			fail(name, "must be between 1m and 720h, got %s", ttl)
		}
	}
	if c.SMTPURL == "" && c.Env == EnvProduction {
		fail("AUTHD_SMTP_URL", "is required in production (mail carries password-reset and verification links)")
	}

	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		fail("AUTHD_MAIL_FROM", "must be an address like \"authd <no-reply@example.com>\", got %q", c.MailFrom)
	}
	if c.MailMaxAttempts < 1 {
		fail("AUTHD_MAIL_MAX_ATTEMPTS", "must be at least 1, got %d", c.MailMaxAttempts)
	}
	if c.MailRetryBase <= 0 {
		fail("AUTHD_MAIL_RETRY_BASE", "must be positive, got %s", c.MailRetryBase)
	} else if c.MailRetryMax < c.MailRetryBase {
		fail("AUTHD_MAIL_RETRY_MAX", "must be at least AUTHD_MAIL_RETRY_BASE (%s), got %s", c.MailRetryBase, c.MailRetryMax)
	}
	if c.MailPollInterval <= 0 {
		fail("AUTHD_MAIL_POLL_INTERVAL", "must be positive, got %s", c.MailPollInterval)
	}
	if c.AuditRetention < time.Hour {
		fail("AUTHD_AUDIT_RETENTION", "must be at least 1h, got %s", c.AuditRetention)
	}
	if e := c.OTelTracesExporter; e != "" && e != "otlp" && e != "none" {
		fail("OTEL_TRACES_EXPORTER", "must be otlp or none, got %q", e)
	}
	if c.PasswordPolicy != password.PolicyDefault && c.PasswordPolicy != password.PolicyNIST {
		fail("AUTHD_PASSWORD_POLICY", "must be default or nist, got %q", c.PasswordPolicy)
	}
	if c.LoginBackoffAfter < 1 {
		fail("AUTHD_LOGIN_BACKOFF_AFTER", "must be at least 1, got %d", c.LoginBackoffAfter)
	}
	if c.LoginBackoffBase < time.Millisecond {
		fail("AUTHD_LOGIN_BACKOFF_BASE", "must be at least 1ms, got %s", c.LoginBackoffBase)
	} else if c.LoginBackoffMax < c.LoginBackoffBase {
		fail("AUTHD_LOGIN_BACKOFF_MAX", "must be at least AUTHD_LOGIN_BACKOFF_BASE (%s), got %s", c.LoginBackoffBase, c.LoginBackoffMax)
	}
	if c.ForwardedHeader != clientip.HeaderXForwardedFor && c.ForwardedHeader != clientip.HeaderForwarded {
		fail("AUTHD_FORWARDED_HEADER", "must be X-Forwarded-For or Forwarded, got %q", c.ForwardedHeader)
	}
	for _, p := range c.TrustedProxies {
		prefix, err := netip.ParsePrefix(strings.TrimSpace(p))
		switch {
		case err != nil:
			fail("AUTHD_TRUSTED_PROXIES", "%q is not a CIDR like 10.0.0.0/8", p)
		case c.Env == EnvProduction && prefix.Bits() < minTrustedBits(prefix):
			// Trusting (nearly) every peer lets any client name its own IP
			// for every per-client limit and the login backoff.
			fail("AUTHD_TRUSTED_PROXIES", "%q covers too much of the internet (at most /8 for IPv4, /7 for IPv6); name your proxies' networks in production", p)
		}
	}
	if !c.RateLimitEnabled && c.Env == EnvProduction {
		// The switch also turns off the login backoff and the per-address
		// mail budgets, which no gateway in front can replace.
		fail("AUTHD_RATE_LIMIT_ENABLED", "must be true in production (it also guards passwords with the login backoff)")
	}
	for _, o := range c.CORSOrigins {
		if u, err := url.Parse(o); o != "*" && (err != nil || u.Scheme == "" || u.Host == "") {
			fail("AUTHD_CORS_ORIGINS", "%q is not an origin like https://app.example.com", o)
		}
	}
	if c.RequestTimeout <= 0 {
		fail("AUTHD_REQUEST_TIMEOUT", "must be positive, got %s", c.RequestTimeout)
	}
	if c.DBMaxConns < 1 {
		fail("AUTHD_DB_MAX_CONNS", "must be at least 1, got %d", c.DBMaxConns)
	}
	if c.DBQueryTimeout <= 0 || c.DBQueryTimeout > c.RequestTimeout {
		fail("AUTHD_DB_QUERY_TIMEOUT", "must be positive and at most AUTHD_REQUEST_TIMEOUT (%s), got %s", c.RequestTimeout, c.DBQueryTimeout)
	}
	if c.BreakerFailures < 1 {
		fail("AUTHD_BREAKER_FAILURES", "must be at least 1, got %d", c.BreakerFailures)
	}
	if c.BreakerSuccesses < 1 {
		fail("AUTHD_BREAKER_SUCCESSES", "must be at least 1, got %d", c.BreakerSuccesses)
	}
	if c.BreakerOpenFor <= 0 {
		fail("AUTHD_BREAKER_OPEN_FOR", "must be positive, got %s", c.BreakerOpenFor)
	}
	return errs
}

// validateTLS checks that the TLS files come in pairs, read, and hold a
// certificate with its key, so that authd never starts without one.
func (c Config) validateTLS() []error {
	switch {
	case c.TLSCertFile == "" && c.TLSKeyFile == "":
		return nil
	case c.TLSKeyFile == "":
		return []error{errors.New("AUTHD_TLS_KEY_FILE: is required with AUTHD_TLS_CERT_FILE (set both or neither)")}
	case c.TLSCertFile == "":
		return []error{errors.New("AUTHD_TLS_CERT_FILE: is required with AUTHD_TLS_KEY_FILE (set both or neither)")}
	}
	var errs []error
	certPEM, err := os.ReadFile(c.TLSCertFile)
	if err != nil {
		errs = append(errs, fmt.Errorf("AUTHD_TLS_CERT_FILE: cannot be read: %w", err))
	}
	keyPEM, err := os.ReadFile(c.TLSKeyFile)
	if err != nil {
		errs = append(errs, fmt.Errorf("AUTHD_TLS_KEY_FILE: cannot be read: %w", err))
	}
	if errs != nil {
		return errs
	}
	// Group-read is allowed: Kubernetes mounts a Secret 0440 when the pod
	// has an fsGroup. Others reading it, or anyone but the owner writing it
	// (the reload would serve their pair), is not.
	if fi, err := os.Stat(c.TLSKeyFile); err == nil && c.Env == EnvProduction && fi.Mode().Perm()&0o027 != 0 {
		errs = append(errs, fmt.Errorf("AUTHD_TLS_KEY_FILE: %s is readable by others or writable by group or others (mode %04o); run chmod 600 (or 640) on it", c.TLSKeyFile, fi.Mode().Perm()))
	}
	if fi, err := os.Stat(c.TLSCertFile); err == nil && c.Env == EnvProduction && fi.Mode().Perm()&0o022 != 0 {
		errs = append(errs, fmt.Errorf("AUTHD_TLS_CERT_FILE: %s is writable by group or others (mode %04o); run chmod 644 on it", c.TLSCertFile, fi.Mode().Perm()))
	}
	if errs != nil {
		return errs
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return []error{fmt.Errorf("AUTHD_TLS_CERT_FILE, AUTHD_TLS_KEY_FILE: not a certificate (PEM) and its private key: %w", err)}
	}
	return nil
}

// minTrustedBits is the widest proxy network production accepts: 10.0.0.0/8
// and the unique-local fc00::/7 are the widest private ones.
func minTrustedBits(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 8
	}
	return 7
}

// validateWebAuthn checks the passkey settings: every origin is a plain
// scheme://host[:port] whose host is the relying party id or a subdomain of
// it (what browsers enforce), and in production every origin is https.
func (c Config) validateWebAuthn() []error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	rpID := c.WebAuthnRPID
	_, ipErr := netip.ParseAddr(rpID)
	if rpID == "" || strings.ContainsAny(rpID, ":/ *") || rpID != strings.ToLower(rpID) || ipErr == nil ||
		(rpID != "localhost" && !strings.Contains(strings.Trim(rpID, "."), ".")) {
		fail("AUTHD_WEBAUTHN_RP_ID", "must be localhost or a lower-case domain with a dot (no scheme, port, wildcard or IP address), got %q", rpID)
		return errs
	}
	if c.WebAuthnRPName == "" || len(c.WebAuthnRPName) > 64 {
		fail("AUTHD_WEBAUTHN_RP_NAME", "must be 1 to 64 characters, got %q", c.WebAuthnRPName)
	}
	if len(c.WebAuthnOrigins) == 0 {
		fail("AUTHD_WEBAUTHN_ORIGINS", "must name at least one origin, like https://login.example.com")
	}
	for _, o := range c.WebAuthnOrigins {
		u, err := url.Parse(o)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") ||
			u.RawQuery != "" || u.Fragment != "" || u.User != nil || !validPort(u.Port()):
			fail("AUTHD_WEBAUTHN_ORIGINS", "%q is not an origin (scheme://host[:port])", o)
		case u.Hostname() != rpID && !strings.HasSuffix(u.Hostname(), "."+rpID):
			fail("AUTHD_WEBAUTHN_ORIGINS", "%q is not on AUTHD_WEBAUTHN_RP_ID %q or a subdomain of it: browsers would refuse its passkeys", o, rpID)
		case c.Env == EnvProduction && u.Scheme != "https" && u.Hostname() != "localhost":
			fail("AUTHD_WEBAUTHN_ORIGINS", "%q must be https in production", o)
		}
	}
	return errs
}

// validPort reports whether an origin's port, if any, is 1 to 65535.
func validPort(p string) bool {
	if p == "" {
		return true
	}
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
