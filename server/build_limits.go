package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/ratelimit"
)

// Redis is given this long per call before the limits fall back to memory,
// and the fallback's breaker then waits this long before trying it again.
const (
	redisCallTimeout = 500 * time.Millisecond
	redisRetryAfter  = 10 * time.Second
)

// newLimits builds the rate limits and the login backoff's counts: in
// memory, or in Redis with memory as the stand-in while Redis is unreachable.
func newLimits(ctx context.Context, cfg config.Config, now func() time.Time, log *slog.Logger) (Limits, error) {
	var store ratelimit.Store = ratelimit.NewMemory(now)
	var backoff ratelimit.Backoff = ratelimit.NewMemoryBackoff(ratelimit.DefaultBackoffLimit)
	if cfg.RedisURL != "" {
		ratelimit.LogRedisTo(log)
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return Limits{}, fmt.Errorf("REDIS_URL: %w", err)
		}
		client := redis.NewClient(ratelimit.ClientOptions(opts))
		shared := ratelimit.NewRedis(client, "authd:rl:")
		fallback := ratelimit.NewFallback(shared, store, redisCallTimeout, redisRetryAfter, log)
		fallback.ProbeAtStart(ctx) // an outage is logged at start, not at the first login
		store = fallback
		// The limits' breaker tells the backoff too when Redis is away.
		backoff = ratelimit.NewFallbackBackoff(ratelimit.NewRedisBackoff(client, "authd:bo:"), backoff, fallback.Degraded, redisCallTimeout, log)
	}
	return Limits{
		Enabled: cfg.RateLimitEnabled, Store: store, BackoffStore: backoff,
		Register: cfg.RateLimitRegister, Login: cfg.RateLimitLogin, LoginIP: cfg.RateLimitLoginIP,
		Refresh: cfg.RateLimitRefresh, FailedLogins: cfg.RateLimitFailedLogins,
		MailIP: cfg.RateLimitMailIP, MailAddress: cfg.RateLimitMailAddress, Token: cfg.RateLimitToken, MailThrottle: cfg.MailThrottle,
		BackoffAfter: cfg.LoginBackoffAfter, BackoffBase: cfg.LoginBackoffBase, BackoffMax: cfg.LoginBackoffMax,
	}, nil
}
