package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store shared by every instance that uses the same Redis: one
// Lua script decides all the checks of a request, so it is atomic however
// many instances ask at once. All keys of a request must live on one node
// (a single Redis, or a primary with replicas; not Redis Cluster).
type Redis struct {
	client *redis.Client
	prefix string
}

// keyPrefix comes before every key, as redis_rate wrote it: with the stored
// form of gcra.lua, it keeps budgets spent by earlier versions counting.
const keyPrefix = "rate:"

//go:embed gcra.lua
var gcraSource string

var gcraScript = redis.NewScript(gcraSource)

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
	return &Redis{client: client, prefix: prefix}
}

// Allow implements Store.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	return allowOne(ctx, r.AllowAll, key, l)
}

// AllowAll implements Store with one round trip.
func (r *Redis) AllowAll(ctx context.Context, checks []Check) ([]Result, error) {
	keys := make([]string, len(checks))
	args := make([]any, 0, 2*len(checks))
	for i, c := range checks {
		keys[i] = keyPrefix + r.prefix + c.Key
		args = append(args, c.Limit.interval().Seconds(), (time.Duration(c.Limit.burst()) * c.Limit.interval()).Seconds())
	}
	reply, err := gcraScript.Run(ctx, r.client, keys, args...).Slice()
	if err != nil {
		return nil, err
	}
	if len(reply) != len(checks) {
		return nil, fmt.Errorf("rate limiter: %d results for %d checks", len(reply), len(checks))
	}
	results := make([]Result, len(checks))
	for i, v := range reply {
		if results[i], err = parseResult(v); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// parseResult reads one key's {allowed, remaining, retry after, reset after}.
func parseResult(v any) (Result, error) {
	f, ok := v.([]any)
	if !ok || len(f) != 4 {
		return Result{}, fmt.Errorf("rate limiter: unexpected reply %v", v)
	}
	allowed, ok1 := f[0].(int64)
	remaining, ok2 := f[1].(int64)
	retry, err1 := seconds(f[2])
	reset, err2 := seconds(f[3])
	if !ok1 || !ok2 || err1 != nil || err2 != nil {
		return Result{}, fmt.Errorf("rate limiter: unexpected reply %v", v)
	}
	return Result{Allowed: allowed == 1, Remaining: int(remaining), RetryAfter: retry, ResetAfter: reset}, nil
}

func seconds(v any) (time.Duration, error) {
	s, _ := v.(string)
	f, err := strconv.ParseFloat(s, 64)
	return time.Duration(f * float64(time.Second)), err
}

// slogRedisLogger sends go-redis's own messages to slog instead of stderr.
type slogRedisLogger struct{ log *slog.Logger }

func (l slogRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// LogRedisTo makes go-redis log through log (at debug level); its default
// writes unstructured lines to stderr.
func LogRedisTo(log *slog.Logger) { redis.SetLogger(slogRedisLogger{log}) }
