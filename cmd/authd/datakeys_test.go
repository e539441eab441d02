package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/datakeys"
	"github.com/authd/authd/server/mfa"
	"github.com/authd/authd/server/testkit"
)

// dataKeys runs `authd datakeys args...` and returns its output.
func dataKeys(t *testing.T, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), append([]string{"datakeys"}, args...), &out); err != nil {
		t.Fatalf("datakeys %v: %v", args, err)
	}
	return out.String()
}

func loadRing(t *testing.T, path string) *datakeys.Ring {
	t.Helper()
	return testkit.Must(datakeys.Parse(readPrivate(t, path)))(t)
}

func TestRun_DataKeysFileSteps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "datakeys.json")
	out := dataKeys(t, "generate", "-file", path)
	first := loadRing(t, path)
	if !strings.Contains(out, first.Primary()) || !strings.Contains(out, "0600") {
		t.Errorf("generate says %q", out)
	}
	if err := run(context.Background(), []string{"datakeys", "generate", "-file", path}, &bytes.Buffer{}); err == nil {
		t.Error("generate overwrote an existing file")
	}
	secret := func(path string) []string { // every secret in the file
		t.Helper()
		var secrets []string
		for _, line := range strings.Split(string(readPrivate(t, path)), "\n") {
			if _, v, ok := strings.Cut(line, `"secret": "`); ok {
				secrets = append(secrets, strings.TrimSuffix(strings.TrimSuffix(v, `",`), `"`))
			}
		}
		return secrets
	}

	if err := os.Chmod(path, 0o644); err != nil { // as a hand-made file might be
		t.Fatal(err)
	}
	out = dataKeys(t, "add", "-file", path)
	added := loadRing(t, path) // and mode 0600 again
	if added.Primary() == first.Primary() || !slices.Equal(added.Kids(), []string{first.Primary(), added.Primary()}) {
		t.Fatalf("after add: primary %s, kids %v", added.Primary(), added.Kids())
	}
	if !strings.Contains(out, added.Primary()) || !strings.Contains(out, "authd datakeys rewrap") {
		t.Errorf("add does not tell the next step: %s", out)
	}
	list := dataKeys(t, "list", "-file", path)
	want := first.Primary() + strings.Repeat(" ", 32-len(first.Primary())) + " decrypt\n" +
		added.Primary() + strings.Repeat(" ", 32-len(added.Primary())) + " primary\n"
	if list != want {
		t.Errorf("list:\n%s\nwant:\n%s", list, want)
	}
	for _, s := range secret(path) {
		if len(s) != 43 || strings.Contains(list+out, s) {
			t.Errorf("a secret (%.4s...) is shown, or the file is not as expected", s)
		}
	}

	if err := run(context.Background(), []string{"datakeys", "remove", "-force", "-file", path, added.Primary()}, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "primary") {
		t.Errorf("removing the primary: %v", err)
	}
	dataKeys(t, "remove", "-force", "-file", path, first.Primary())
	if kids := loadRing(t, path).Kids(); !slices.Equal(kids, []string{added.Primary()}) {
		t.Errorf("after remove: %v", kids)
	}

	t.Setenv("AUTHD_DATA_KEYS_FILE", filepath.Join(dir, "from-env.json"))
	dataKeys(t, "generate")
	readPrivate(t, filepath.Join(dir, "from-env.json"))
}

func TestRun_DataKeysRefusesBadArguments(t *testing.T) {
	path := filepath.Join(t.TempDir(), "datakeys.json")
	dataKeys(t, "generate", "-file", path)
	for _, args := range [][]string{
		{}, {"frob", "-file", path}, {"list"}, {"list", "-file", path, "extra"},
		{"remove", "-file", path}, {"add", "-force", "-file", path}, {"add", "-batch", "5", "-file", path},
		{"rewrap", "-batch", "0", "-file", path}, {"list", "-file", filepath.Join(t.TempDir(), "missing.json")},
	} {
		if err := run(context.Background(), append([]string{"datakeys"}, args...), &bytes.Buffer{}); err == nil {
			t.Errorf("datakeys %v: accepted", args)
		}
	}
	if err := os.WriteFile(path, []byte(`{"keys":[{"kid":"a","secret":"c2VjcmV0","status":"primary"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"datakeys", "add", "-file", path}, &bytes.Buffer{})
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Errorf("add on a malformed file: %v", err)
	}
}

// TestRun_DataKeysRotationRewrapsEverySecret: the whole rotation against a
// database: secrets sealed with the old key are rewrapped in batches and
// still open to what they were, the old key cannot be removed while one
// is sealed with it, a secret that does not open is reported and left alone.
func TestRun_DataKeysRotationRewrapsEverySecret(t *testing.T) {
	ctx, url := migratedDatabaseURL(t)
	pool, err := database.Open(ctx, url, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	q := db.New(pool)

	path := filepath.Join(t.TempDir(), "datakeys.json")
	t.Setenv("AUTHD_DATA_KEYS_FILE", path)
	dataKeys(t, "generate")
	old := loadRing(t, path)
	now := time.Now()
	user, err := q.CreateUser(ctx, db.CreateUserParams{Email: "rewrap@example.com", PasswordHash: "x", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[uuid.UUID]string{}
	insert := func(ring *datakeys.Ring, n int) {
		t.Helper()
		for range n {
			id := uuid.New()
			plain := "SECRET" + id.String()
			kid, sealed := ring.Seal([]byte(plain), mfa.SecretAAD(id, user.ID))
			expires := now.Add(time.Hour)
			if _, err := q.CreateFactor(ctx, db.CreateFactorParams{ID: id, UserID: user.ID, Kind: "totp", FriendlyName: "phone",
				SecretKid: kid, SecretSealed: sealed, ExpiresAt: &expires, Now: now}); err != nil {
				t.Fatal(err)
			}
			secrets[id] = plain
		}
	}
	insert(old, 7)

	dataKeys(t, "add")
	rotated := loadRing(t, path)
	insert(rotated, 2) // sealed by an instance already on the new file

	err = run(ctx, []string{"datakeys", "remove", old.Primary()}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "7 TOTP secret(s)") || !strings.Contains(err.Error(), "rewrap") {
		t.Fatalf("remove while 7 secrets are sealed with the key: %v", err)
	}
	if !slices.Contains(loadRing(t, path).Kids(), old.Primary()) {
		t.Fatal("the refused remove changed the file")
	}

	if out := dataKeys(t, "rewrap", "-batch", "3"); out != "rewrapped 7 TOTP secret(s) to "+rotated.Primary()+"\n" {
		t.Errorf("rewrap: %q", out)
	}
	if n := testkit.Must(q.CountFactorSecretsUnder(ctx, old.Primary()))(t); n != 0 {
		t.Errorf("%d secrets still under the old key", n)
	}
	if out := dataKeys(t, "rewrap"); out != "rewrapped 0 TOTP secret(s) to "+rotated.Primary()+"\n" {
		t.Errorf("second rewrap: %q", out)
	}
	dataKeys(t, "remove", old.Primary())
	final := loadRing(t, path)
	rows := testkit.Must(q.ListFactorSecretsNotUnder(ctx, db.ListFactorSecretsNotUnderParams{Kid: "none", MaxRows: 100}))(t)
	if len(rows) != len(secrets) {
		t.Fatalf("%d factors, want %d", len(rows), len(secrets))
	}
	for _, row := range rows {
		plain, err := final.Open(row.SecretKid, row.SecretSealed, mfa.SecretAAD(row.ID, row.UserID))
		if err != nil || string(plain) != secrets[row.ID] {
			t.Errorf("factor %s after the rotation: %q, %v", row.ID, plain, err)
		}
	}

	// A secret that does not open is named, left as it is, and fails the
	// command; the others are rewrapped past it, in batches of one.
	dataKeys(t, "add")
	next := loadRing(t, path)
	id := rows[0].ID
	moved := rows[1].SecretSealed // sealed for another row: its aad is wrong here
	if n := testkit.Must(q.RewrapFactorSecret(ctx, db.RewrapFactorSecretParams{ID: id, OldKid: rows[0].SecretKid, SecretKid: rows[1].SecretKid, SecretSealed: moved}))(t); n != 1 {
		t.Fatal("could not plant the moved secret")
	}
	var out bytes.Buffer
	err = run(ctx, []string{"datakeys", "rewrap", "-batch", "1"}, &out)
	if err == nil || !strings.Contains(err.Error(), "1 TOTP secret(s) could not be opened") || !strings.Contains(err.Error(), id.String()) ||
		strings.Contains(err.Error(), "SECRET") {
		t.Errorf("rewrap with a moved secret: %v", err)
	}
	if out.String() != "rewrapped 8 TOTP secret(s) to "+next.Primary()+"\n" {
		t.Errorf("rewrap with a moved secret says %q", out.String())
	}
	if n := testkit.Must(q.CountFactorSecretsUnder(ctx, final.Primary()))(t); n != 1 {
		t.Errorf("%d secrets left under the previous key, want the one that does not open", n)
	}
}
