package password

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

var ctx = context.Background()

var (
	fastArgon  = Params{Algorithm: "argon2id", MemoryKiB: 1024, Time: 1, Threads: 1}
	fastBcrypt = Params{Algorithm: "bcrypt", BcryptCost: bcrypt.MinCost}
)

func newHasher(t *testing.T, p Params) *Hasher {
	t.Helper()
	h, err := NewHasher(p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestHasher_RoundTripBothAlgorithms(t *testing.T) {
	t.Parallel()
	for _, p := range []Params{fastArgon, fastBcrypt} {
		h := newHasher(t, p)
		enc, err := h.Hash(ctx, "Correct-Horse-7")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(enc, "Correct-Horse-7") {
			t.Fatalf("%s hash contains the password", p.Algorithm)
		}
		if ok, rehash, err := h.Verify(ctx, "Correct-Horse-7", enc); !ok || rehash || err != nil {
			t.Errorf("%s: verify = %v %v %v", p.Algorithm, ok, rehash, err)
		}
		if ok, _, _ := h.Verify(ctx, "Correct-Horse-8", enc); ok {
			t.Errorf("%s: wrong password verified", p.Algorithm)
		}
		again, _ := h.Hash(ctx, "Correct-Horse-7")
		if again == enc {
			t.Errorf("%s: two hashes of one password are equal (no salt?)", p.Algorithm)
		}
	}
}

func TestHasher_ArgonFormatIsSelfDescribing(t *testing.T) {
	t.Parallel()
	enc, _ := newHasher(t, Params{Algorithm: "argon2id", MemoryKiB: 19456, Time: 2, Threads: 1}).Hash(ctx, "x")
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash = %q", enc)
	}
}

func TestHasher_BcryptNeverTruncates(t *testing.T) {
	t.Parallel()
	h := newHasher(t, fastBcrypt)
	base := strings.Repeat("a", 80)
	enc, _ := h.Hash(ctx, base+"1")
	if ok, _, _ := h.Verify(ctx, base+"2", enc); ok {
		t.Fatal("passwords differing after byte 72 verified")
	}
	if ok, _, _ := h.Verify(ctx, base+"1", enc); !ok {
		t.Fatal("long password did not verify")
	}
}

func TestHasher_PlainBcryptImportsVerifyAndUpgrade(t *testing.T) {
	t.Parallel()
	plain, _ := bcrypt.GenerateFromPassword([]byte("Correct-Horse-7"), bcrypt.MinCost)
	h := newHasher(t, fastArgon)
	ok, rehash, err := h.Verify(ctx, "Correct-Horse-7", string(plain))
	if !ok || !rehash || err != nil {
		t.Errorf("verify plain bcrypt = %v %v %v, want ok and rehash", ok, rehash, err)
	}
	// A plain bcrypt hash cannot tell passwords apart past 72 bytes: refuse.
	long := strings.Repeat("b", 72)
	plainLong, _ := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	if ok, _, _ := h.Verify(ctx, long+"extra", string(plainLong)); ok {
		t.Error("plain bcrypt accepted a password longer than 72 bytes")
	}
}

// TestHasher_PlainBcryptLongPasswordSpendsADummyVerification: refusing a
// password over bcrypt's 72 bytes must cost a verification like any wrong
// password, or its speed tells that the account exists and has a legacy
// hash. The work is counted through Observe, by algorithm: the stored hash
// is bcrypt, so argon2id work can only be the dummy's.
func TestHasher_PlainBcryptLongPasswordSpendsADummyVerification(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("b", 72)
	plainLong, _ := bcrypt.GenerateFromPassword([]byte(long), bcrypt.MinCost)
	h := newHasher(t, fastArgon)
	var mu sync.Mutex
	var work []string
	h.Observe(func(algorithm string, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		work = append(work, algorithm)
	})
	ok, rehash, err := h.Verify(ctx, long+"extra", string(plainLong))
	if ok || rehash || err != nil {
		t.Errorf("verify = %v %v %v, want a plain mismatch", ok, rehash, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(work, ",") != "argon2id" {
		t.Errorf("hashing work done: %v, want one dummy verification (argon2id)", work)
	}
}

func TestHasher_RehashWhenParametersChange(t *testing.T) {
	t.Parallel()
	old := newHasher(t, fastArgon)
	enc, _ := old.Hash(ctx, "pw")
	for name, p := range map[string]Params{
		"more memory":     {Algorithm: "argon2id", MemoryKiB: 2048, Time: 1, Threads: 1},
		"more time":       {Algorithm: "argon2id", MemoryKiB: 1024, Time: 2, Threads: 1},
		"other algorithm": fastBcrypt,
	} {
		if ok, rehash, _ := newHasher(t, p).Verify(ctx, "pw", enc); !ok || !rehash {
			t.Errorf("%s: ok=%v rehash=%v, want both", name, ok, rehash)
		}
	}
	bc, _ := newHasher(t, fastBcrypt).Hash(ctx, "pw")
	if _, rehash, _ := newHasher(t, Params{Algorithm: "bcrypt", BcryptCost: bcrypt.MinCost + 1}).Verify(ctx, "pw", bc); !rehash {
		t.Error("bcrypt cost change not detected")
	}
	if _, rehash, _ := old.Verify(ctx, "wrong", enc); rehash {
		t.Error("rehash suggested for a wrong password")
	}
}

func TestHasher_UnknownOrBrokenHashes(t *testing.T) {
	t.Parallel()
	h := newHasher(t, fastArgon)
	for _, enc := range []string{"plaintext", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2id$v=18$m=1024,t=1,p=1$AAAA$AAAA", "$argon2id$garbage", "$bcrypt-sha256$nope"} {
		if ok, _, err := h.Verify(ctx, "pw", enc); ok || err == nil {
			t.Errorf("%q: ok=%v err=%v, want refusal with error", enc, ok, err)
		}
	}
}

// TestHasher_NoPasswordMatchesNothingAtTheCostOfAVerification: the empty
// hash of an account without a password refuses every password, the empty
// one too, without an error (it is not a broken hash), and a verification
// runs all the same, so the answer takes as long as a wrong password's.
func TestHasher_NoPasswordMatchesNothingAtTheCostOfAVerification(t *testing.T) {
	t.Parallel()
	h := newHasher(t, fastArgon)
	var mu sync.Mutex
	verified := 0
	h.Observe(func(string, time.Duration) { mu.Lock(); verified++; mu.Unlock() })
	for _, pw := range []string{"Correct-Horse-7", ""} {
		ok, rehash, err := h.Verify(ctx, pw, NoPassword)
		if ok || rehash || err != nil {
			t.Errorf("%q against no password: ok=%v rehash=%v err=%v, want a plain refusal", pw, ok, rehash, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if verified != 2 {
		t.Errorf("%d verifications ran for 2 checks, want 2 (one each, like a wrong password)", verified)
	}
}

func TestHasher_VerifyDummyNeverPanics(t *testing.T) {
	t.Parallel()
	_ = newHasher(t, fastArgon).VerifyDummy(ctx, "anything") // only a panic would fail this test
}

func TestPolicy_DefaultComposition(t *testing.T) {
	t.Parallel()
	cases := map[string]int{
		"Correct-Horse-7": 0,
		"ÄÖÜäöü123x":      0, // letters beyond ASCII count
		"lowercase1x":     1,
		"UPPERCASE1X":     1,
		"NoDigitsHereX":   1,
		"12345678901":     2,
		"":                3,
	}
	for pw, want := range cases {
		if got := (Policy{Name: PolicyDefault}).Violations(pw, ""); len(got) != want {
			t.Errorf("Violations(%q) = %v, want %d", pw, got, want)
		}
	}
}

func TestPolicy_BlocklistIgnoresCase(t *testing.T) {
	t.Parallel()
	if n := len(blocklist); n < 3000 {
		t.Fatalf("blocklist has %d entries, want at least 3,000", n)
	}
	for _, pw := range []string{"Password1", "PASSWORD1", "iloveyou", "Passw0rd"} {
		got := Policy{Name: PolicyNIST}.Violations(pw, "")
		if !contains(got, "commonly used") {
			t.Errorf("%q: %v, want the blocklist rule", pw, got)
		}
	}
	for _, pw := range []string{"Password1!", "!!Qwerty2024", "MonkeyMonkeyMonkey1", "aaaaaaaaaaaaaaaaaaaa", "abcabcabcabcabcabc"} {
		if got := (Policy{Name: PolicyNIST}).Violations(pw, ""); !contains(got, "commonly used") {
			t.Errorf("%q: %v, want the blocklist rule", pw, got)
		}
	}
	if got := (Policy{Name: PolicyNIST}).Violations("correct horse battery staple", ""); got != nil {
		t.Errorf("a long uncommon passphrase: %v", got)
	}
}

func TestPolicy_EmailLocalPart(t *testing.T) {
	t.Parallel()
	p := Policy{Name: PolicyDefault}
	for _, pw := range []string{"Adalovelace1", "My-ADALOVELACE-9", "adaLovelace7!"} {
		if got := p.Violations(pw, " AdaLovelace@example.com"); !contains(got, "before the @") {
			t.Errorf("%q with AdaLovelace@: %v, want the local-part rule", pw, got)
		}
	}
	if got := p.Violations("Jo-Horse-7", "jo@example.com"); got != nil {
		t.Errorf("a two-letter local part forbids ordinary passwords: %v", got)
	}
	if got := p.Violations("Correct-Horse-7", "ada@example.com"); got != nil {
		t.Errorf("unrelated password refused: %v", got)
	}
}

func TestPolicy_NIST(t *testing.T) {
	t.Parallel()
	p := Policy{Name: PolicyNIST}
	if got := p.Violations("alllowercasebutlong", ""); got != nil {
		t.Errorf("NIST imposes no composition rules: %v", got)
	}
	if got := p.Violations("Short-Pass-1", ""); !contains(got, "at least 15") {
		t.Errorf("NIST minimum: %v", got)
	}
}

func contains(msgs []string, part string) bool {
	for _, m := range msgs {
		if strings.Contains(m, part) {
			return true
		}
	}
	return false
}

func TestHasher_BulkheadRefusesWhenFull(t *testing.T) {
	t.Parallel()
	p := fastArgon
	p.Concurrency, p.MaxWait = 1, 20*time.Millisecond
	h := newHasher(t, p)

	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- h.run(ctx, "test", func() error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding // the only slot is taken
	if _, err := h.Hash(ctx, "pw"); !errors.Is(err, ErrBusy) {
		t.Errorf("hash with the slot taken: %v, want ErrBusy", err)
	}
	if _, _, err := h.Verify(ctx, "pw", "x"); !errors.Is(err, ErrBusy) {
		t.Errorf("verify with the slot taken: %v, want ErrBusy", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := h.Hash(ctx, "pw"); err != nil {
		t.Errorf("hash after release: %v", err)
	}
}

func TestHasher_WaitEndsWithTheRequest(t *testing.T) {
	t.Parallel()
	p := fastArgon
	p.Concurrency, p.MaxWait = 1, time.Hour
	h := newHasher(t, p)
	holding, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = h.run(ctx, "test", func() error { close(holding); <-release; return nil })
	}()
	<-holding
	defer close(release)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := h.Hash(cctx, "pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("hash for a cancelled request: %v, want context.Canceled", err)
	}
}

// TestHasher_WaitingHashReusesTheMemoryOfTheOneBefore: x/crypto cannot
// reuse a hash's memory, so when another caller waits for the slot the
// hasher collects the finished hash's memory before giving the slot up.
// Not parallel: it reads the whole process's heap.
func TestHasher_WaitingHashReusesTheMemoryOfTheOneBefore(t *testing.T) {
	const mem = 32 << 10 // KiB
	h := newHasher(t, Params{Algorithm: "argon2id", MemoryKiB: mem, Time: 1, Threads: 1, Concurrency: 1, MaxWait: time.Minute})
	next := make(chan struct{})
	h.Observe(func(string, time.Duration) { <-next }) // the hash is done, its slot still held
	hashed := make(chan error)
	go func() {
		_, err := h.Hash(ctx, "Correct-Horse-7")
		hashed <- err
	}()
	for h.InUse() == 0 {
		runtime.Gosched() // until the hash holds the only slot
	}
	heapAtNext := make(chan uint64, 1)
	go func() {
		_ = h.run(ctx, "test", func() error {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			heapAtNext <- m.HeapAlloc
			return nil
		})
	}()
	for h.Waiting() == 0 {
		runtime.Gosched() // until the next caller waits for the slot
	}
	close(next)
	if err := <-hashed; err != nil {
		t.Fatal(err)
	}
	if got := <-heapAtNext; got >= mem<<10 {
		t.Errorf("the next caller found %d MiB on the heap: the %d MiB of the finished hash were not freed", got>>20, mem>>10)
	}
}
