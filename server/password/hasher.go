// Package password hashes and verifies passwords and holds the password policy.
package password

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/bulkhead"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Params selects the algorithm for new hashes and its cost.
type Params struct {
	Algorithm  string // "argon2id" or "bcrypt"
	MemoryKiB  uint32 // argon2id
	Time       uint32 // argon2id
	Threads    uint8  // argon2id
	BcryptCost int
	// Concurrency caps hashes running at once (each argon2id hash holds
	// MemoryKiB); MaxWait bounds how long a caller queues for a slot.
	Concurrency uint
	MaxWait     time.Duration
}

// Hasher makes new hashes with one Params and verifies hashes of any supported
// kind. Every hash runs behind a bulkhead, so a burst of logins queues
// briefly and then fails with ErrBusy instead of exhausting memory.
type Hasher struct {
	params  Params
	dummy   string
	slots   bulkhead.Bulkhead[any]
	inUse   atomic.Int64
	waiting atomic.Int64
	observe atomic.Pointer[func(algorithm string, d time.Duration)]
}

// Observe registers fn to receive the duration of each hash or verification
// (without the wait for a slot) and its algorithm, for metrics.
func (h *Hasher) Observe(fn func(algorithm string, d time.Duration)) { h.observe.Store(&fn) }

// InUse counts hashes running now.
func (h *Hasher) InUse() int64 { return h.inUse.Load() }

// Waiting counts callers queued for a hashing slot.
func (h *Hasher) Waiting() int64 { return h.waiting.Load() }

var (
	// ErrUnknownHash means a stored hash is in no format this package knows.
	ErrUnknownHash = errors.New("password: unknown hash format")
	// ErrBusy means no hashing slot freed up within MaxWait.
	ErrBusy = errors.New("password: hashing capacity exhausted")
)

const (
	argonPrefix = "$argon2id$"
	// bcryptSHA256Prefix marks bcrypt over base64(SHA-256(password)), so
	// passwords longer than bcrypt's 72 bytes are never silently truncated.
	bcryptSHA256Prefix = "$bcrypt-sha256$"
	argonSaltLen       = 16
	argonKeyLen        = 32
)

// The most work a stored argon2id hash may ask for; config refuses to make
// hashes this package would not verify.
const (
	MaxArgonMemoryKiB = 1 << 20 // 1 GiB
	MaxArgonTime      = 64
	MaxArgonThreads   = 16
)

// NewHasher returns a Hasher; it hashes one random password up front so that
// VerifyDummy costs the same as a real verification.
func NewHasher(p Params) (*Hasher, error) {
	if p.Concurrency == 0 {
		p.Concurrency = 1
	}
	h := &Hasher{params: p, slots: bulkhead.NewBuilder[any](p.Concurrency).WithMaxWaitTime(p.MaxWait).Build()}
	dummy, err := h.Hash(context.Background(), rand.Text())
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

// Hash returns a self-describing hash of pw with the configured parameters.
func (h *Hasher) Hash(ctx context.Context, pw string) (enc string, err error) {
	err = h.run(ctx, h.params.Algorithm, func() error {
		enc, err = h.hash(pw)
		return err
	})
	return enc, err
}

// NoPassword is the stored hash of an account without a password (one
// created by a federated login): no password matches it.
const NoPassword = ""

// Verify reports whether pw matches encoded, and whether encoded should be
// replaced because it uses other parameters than the configured ones.
// Against NoPassword nothing matches, and it is not an error.
func (h *Hasher) Verify(ctx context.Context, pw, encoded string) (ok, rehash bool, err error) {
	if encoded == NoPassword {
		// At the cost of a verification, as for an unknown account: an early
		// answer would tell that the account has no password.
		return false, false, h.VerifyDummy(ctx, pw)
	}
	if tooLongForBcrypt(pw, encoded) {
		// No match, at the cost of a verification: an early answer would
		// tell that the account exists and has a legacy hash.
		return false, false, h.VerifyDummy(ctx, pw)
	}
	runErr := h.run(ctx, algorithmOf(encoded), func() error {
		ok, rehash, err = h.verify(pw, encoded)
		return nil
	})
	if runErr != nil {
		return false, false, runErr
	}
	return ok, rehash, err
}

// VerifyDummy spends the time of one verification and always fails, so that
// an unknown account answers as slowly as a wrong password.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) error {
	if _, _, err := h.Verify(ctx, pw, h.dummy); errors.Is(err, ErrBusy) || ctx.Err() != nil {
		return err
	}
	return nil
}

// run holds a bulkhead slot while fn hashes with algorithm.
func (h *Hasher) run(ctx context.Context, algorithm string, fn func() error) error {
	h.waiting.Add(1)
	started := false
	err := failsafe.With[any](h.slots).WithContext(ctx).Run(func() error {
		started = true
		h.waiting.Add(-1)
		h.inUse.Add(1)
		defer h.inUse.Add(-1)
		t := time.Now()
		err := fn()
		if observe := h.observe.Load(); observe != nil {
			(*observe)(algorithm, time.Since(t))
		}
		if algorithm == "argon2id" && h.waiting.Load() > 0 {
			// x/crypto allocates each hash's memory afresh (golang/go#36634).
			// When another hash waits for this slot, collecting first lets it
			// reuse that memory; under a flood the garbage of finished hashes
			// would otherwise pile up until the heap doubles. Without waiters
			// the collector's own pace is cheaper.
			runtime.GC()
		}
		return err
	})
	if !started {
		h.waiting.Add(-1)
	}
	if errors.Is(err, bulkhead.ErrFull) {
		return ErrBusy
	}
	return err
}

// algorithmOf names the algorithm of a stored hash, for metrics.
func algorithmOf(encoded string) string {
	switch {
	case strings.HasPrefix(encoded, argonPrefix):
		return "argon2id"
	case strings.HasPrefix(encoded, "$"):
		return "bcrypt"
	default:
		return "unknown"
	}
}

func (h *Hasher) hash(pw string) (string, error) {
	switch h.params.Algorithm {
	case "argon2id":
		salt := make([]byte, argonSaltLen)
		_, _ = rand.Read(salt)
		key := argon2.IDKey([]byte(pw), salt, h.params.Time, h.params.MemoryKiB, h.params.Threads, argonKeyLen)
		return fmt.Sprintf("%sv=%d$m=%d,t=%d,p=%d$%s$%s", argonPrefix, argon2.Version,
			h.params.MemoryKiB, h.params.Time, h.params.Threads, b64(salt), b64(key)), nil
	case "bcrypt":
		out, err := bcrypt.GenerateFromPassword(prehash(pw), h.params.BcryptCost)
		if err != nil {
			return "", err
		}
		return bcryptSHA256Prefix + string(out), nil
	default:
		return "", fmt.Errorf("password: unknown algorithm %q", h.params.Algorithm)
	}
}

func (h *Hasher) verify(pw, encoded string) (ok, rehash bool, err error) {
	switch {
	case strings.HasPrefix(encoded, argonPrefix):
		return h.verifyArgon(pw, encoded)
	case strings.HasPrefix(encoded, bcryptSHA256Prefix):
		stored := []byte(strings.TrimPrefix(encoded, bcryptSHA256Prefix))
		ok, err := bcryptMatch(prehash(pw), stored)
		return ok, ok && h.bcryptStale(stored), err
	case isPlainBcrypt(encoded): // Verify refuses passwords it would truncate
		ok, err := bcryptMatch([]byte(pw), []byte(encoded))
		return ok, ok, err // always upgrade to the pre-hashed form
	default:
		return false, false, ErrUnknownHash
	}
}

// isPlainBcrypt reports whether encoded is bcrypt over the password itself
// (imported hashes), not over its SHA-256.
func isPlainBcrypt(encoded string) bool {
	return strings.HasPrefix(encoded, "$2a$") || strings.HasPrefix(encoded, "$2b$") || strings.HasPrefix(encoded, "$2y$")
}

// tooLongForBcrypt reports whether pw is longer than the 72 bytes a plain
// bcrypt hash sees: such a password cannot be checked honestly, so it does
// not match.
func tooLongForBcrypt(pw, encoded string) bool { return isPlainBcrypt(encoded) && len(pw) > 72 }

func (h *Hasher) verifyArgon(pw, encoded string) (bool, bool, error) {
	var version int
	var mem, t uint32
	var p uint8
	parts := strings.Split(encoded, "$") // "", argon2id, v=19, m=..,t=..,p=.., salt, key
	if len(parts) != 6 {
		return false, false, ErrUnknownHash
	}
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, false, ErrUnknownHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &t, &p); err != nil || mem == 0 || t == 0 || p == 0 {
		return false, false, ErrUnknownHash
	}
	// A corrupt or hostile stored hash must not make one login allocate
	// gigabytes or spin for minutes.
	if mem > MaxArgonMemoryKiB || t > MaxArgonTime || p > MaxArgonThreads {
		return false, false, ErrUnknownHash
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	keyLen := len(key)
	if err1 != nil || err2 != nil || keyLen < 16 || keyLen > 128 {
		return false, false, ErrUnknownHash
	}
	got := argon2.IDKey([]byte(pw), salt, t, mem, p, uint32(keyLen))
	ok := subtle.ConstantTimeCompare(got, key) == 1
	stale := h.params.Algorithm != "argon2id" || mem != h.params.MemoryKiB || t != h.params.Time || p != h.params.Threads
	return ok, ok && stale, nil
}

func (h *Hasher) bcryptStale(stored []byte) bool {
	cost, err := bcrypt.Cost(stored)
	return h.params.Algorithm != "bcrypt" || err != nil || cost != h.params.BcryptCost
}

// MaxBcryptCost bounds the work a stored hash may ask for: a corrupt
// "$2a$31$..." would otherwise spin a login for hours (found by fuzzing).
const MaxBcryptCost = 16

func bcryptMatch(pw, stored []byte) (bool, error) {
	if cost, err := bcrypt.Cost(stored); err != nil || cost > MaxBcryptCost {
		return false, ErrUnknownHash
	}
	err := bcrypt.CompareHashAndPassword(stored, pw)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	default:
		return false, ErrUnknownHash
	}
}

func prehash(pw string) []byte {
	sum := sha256.Sum256([]byte(pw))
	return []byte(base64.StdEncoding.EncodeToString(sum[:]))
}

func b64(b []byte) string { return base64.RawStdEncoding.EncodeToString(b) }
