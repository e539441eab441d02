package server_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/server/datakeys"
	"github.com/authd/authd/server/mfa"
	"github.com/authd/authd/server/testkit"
)

// TestDataKeys_EnrolmentSealsTheSecretUnderThePrimary: the TOTP secret is
// stored only sealed, under the app's primary data key (from its
// AUTHD_DATA_KEYS_FILE, not the signing keys), bound to its factor and user; it
// still opens after a rotation adds a new primary, and no longer once moved
// to another row.
func TestDataKeys_EnrolmentSealsTheSecretUnderThePrimary(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	factor, secret, _ := app.EnrolTOTP(t, pair.AccessToken)
	ou, other := app.NewUser(t)
	otherFactor, _, _ := app.EnrolTOTP(t, other.AccessToken)

	read := func(id uuid.UUID) (string, []byte) {
		t.Helper()
		var kid string
		var sealed []byte
		if err := app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT secret_kid, secret_sealed FROM mfa_factors WHERE id = $1", id).Scan(&kid, &sealed); err != nil {
			t.Fatal(err)
		}
		return kid, sealed
	}
	kid, sealed := read(factor.Id)
	ring := testkit.Must(datakeys.Parse(app.DataKeys))(t)
	if kid != ring.Primary() || kid == datakeys.DevelopmentKid {
		t.Fatalf("sealed under %q, want the file's primary %q", kid, ring.Primary())
	}
	if bytes.Contains(sealed, []byte(secret)) || strings.Contains(app.Logs.String(), secret) {
		t.Fatal("the secret is stored or logged in the clear")
	}
	if plain, err := ring.Open(kid, sealed, mfa.SecretAAD(factor.Id, u.Id)); err != nil || string(plain) != secret {
		t.Fatalf("the stored secret opens to %q, %v", plain, err)
	}

	next, _, err := datakeys.Add(app.DataKeys)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := testkit.Must(datakeys.Parse(next))(t).Open(kid, sealed, mfa.SecretAAD(factor.Id, u.Id)); err != nil || string(plain) != secret {
		t.Fatalf("after adding a primary: %q, %v", plain, err)
	}
	if _, err := ring.Open(kid, sealed, mfa.SecretAAD(otherFactor.Id, ou.Id)); !errors.Is(err, datakeys.ErrOpen) {
		t.Fatalf("moved to another factor: %v", err)
	}
}
