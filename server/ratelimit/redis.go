package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by every instance that uses the same Redis:
// redis_rate's GCRA, which runs as one Lua script per check.
type Redis struct {
	limiter *redis_rate.Limiter
	prefix  string
}

// ClientOptions tunes Redis options for rate limiting: a limit check must
// answer fast or not at all, so deadlines are honoured and nothing retries.
func ClientOptions(opts *redis.Options) *redis.Options {
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = 500 * time.Millisecond
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.MaxRetries = -1
	return opts
}

// NewRedis returns a Store on client; keys are prefixed with prefix.
func NewRedis(client *redis.Client, prefix string) *Redis {
	return &Redis{limiter: redis_rate.NewLimiter(client), prefix: prefix}
}

// Allow implements Store.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := r.limiter.Allow(ctx, r.prefix+key, redisLimit(l))
	if err != nil {
		return Result{}, err
	}
	return Result{Allowed: res.Allowed > 0, Remaining: res.Remaining, RetryAfter: max(0, res.RetryAfter), ResetAfter: res.ResetAfter}, nil
}

// Peek implements Store: a check that costs nothing reports how much is left;
// less than one event means the next would be refused.
func (r *Redis) Peek(ctx context.Context, key string, l Limit) (Result, error) {
	res, err := r.limiter.AllowN(ctx, r.prefix+key, redisLimit(l), 0)
	if err != nil {
		return Result{}, err
	}
	if res.Remaining >= 1 {
		return Result{Allowed: true, Remaining: res.Remaining, ResetAfter: res.ResetAfter}, nil
	}
	// The next event fits once all but burst-1 events' worth has come back.
	wait := res.ResetAfter - time.Duration(l.burst()-1)*l.interval()
	return Result{Allowed: false, RetryAfter: max(0, wait), ResetAfter: res.ResetAfter}, nil
}

func redisLimit(l Limit) redis_rate.Limit {
	return redis_rate.Limit{Rate: l.refills(), Burst: l.burst(), Period: l.Period}
}

// slogRedisLogger sends go-redis's own messages to slog instead of stderr.
type slogRedisLogger struct{ log *slog.Logger }

func (l slogRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// LogRedisTo makes go-redis log through log (at debug level); its default
// writes unstructured lines to stderr.
func LogRedisTo(log *slog.Logger) { redis.SetLogger(slogRedisLogger{log}) }
