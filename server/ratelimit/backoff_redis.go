package ratelimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisBackoff is a Backoff shared by every instance on one Redis. Each count
// is a hash that expires Window after its last attempt (or when its block
// ends, if later), so Redis holds one small key per (address, client) that
// failed in the last Window and nothing older.
type RedisBackoff struct {
	client *redis.Client
	prefix string
}

// NewRedisBackoff returns a Backoff on client; keys are prefixed with prefix.
func NewRedisBackoff(client *redis.Client, prefix string) *RedisBackoff {
	return &RedisBackoff{client: client, prefix: prefix}
}

// attemptScript is Attempt as one script, so check and count are atomic
// across instances. Times are milliseconds of the caller's clock; the wait
// is BackoffPolicy.Wait.
var attemptScript = redis.NewScript(`
local now, after, base, maxw, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local v = redis.call('HMGET', KEYS[1], 'n', 'last', 'until')
local n, last, blocked = tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0
if blocked > now then return blocked - now end
if last < now - window then n = 0 end
n = n + 1
local wait = 0
if n >= after then
  wait = base
  for i = after, n - 1 do
    if wait >= maxw then break end
    wait = wait * 2
  end
  if wait > maxw then wait = maxw end
end
redis.call('HSET', KEYS[1], 'n', n, 'last', now, 'until', now + wait)
redis.call('PEXPIRE', KEYS[1], math.max(window, wait))
return 0
`)

// Attempt implements Backoff.
func (r *RedisBackoff) Attempt(ctx context.Context, key string, now time.Time, p BackoffPolicy) (time.Duration, error) {
	wait, err := attemptScript.Run(ctx, r.client, []string{r.prefix + key},
		now.UnixMilli(), p.After, p.Base.Milliseconds(), p.Max.Milliseconds(), p.Window.Milliseconds()).Int64()
	if err != nil {
		return 0, err
	}
	return time.Duration(wait) * time.Millisecond, nil
}

// Forgive implements Backoff.
func (r *RedisBackoff) Forgive(ctx context.Context, key string) error {
	return r.client.Del(ctx, r.prefix+key).Err()
}
