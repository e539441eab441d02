package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/db"
)

// A service credential is "authd_sc_<id in 32 hex>_<secret>": the id finds
// the row, the secret (32 random bytes, base64url) is checked against its
// SHA-256. The prefix tells it from an access token before any parsing.
const credentialPrefix = "authd_sc_" //nolint:gosec // G101: a token prefix, not a credential

// Actors of an admin action, as events and erasures record them.
const (
	actorAdmin   = "admin:"
	actorService = "service:"
)

// NewServiceCredential creates a credential with scopes, valid until
// expires (never when zero), and returns it with its token, which exists
// only in this answer.
func (s *Server) NewServiceCredential(ctx context.Context, name string, scopes []string, expires time.Time) (db.ServiceCredential, string, error) {
	if name == "" || len(name) > 64 {
		return db.ServiceCredential{}, "", fmt.Errorf("a credential's name has 1 to 64 characters")
	}
	if len(scopes) == 0 {
		return db.ServiceCredential{}, "", fmt.Errorf("a credential needs at least one scope of %v", credentialScopes)
	}
	for _, sc := range scopes {
		if !slices.Contains(credentialScopes, sc) {
			return db.ServiceCredential{}, "", fmt.Errorf("unknown scope %q: one of %v", sc, credentialScopes)
		}
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // never fails (crypto/rand)
	encoded := base64.RawURLEncoding.EncodeToString(secret)
	hash := sha256.Sum256([]byte(encoded))
	var exp *time.Time
	if !expires.IsZero() {
		exp = &expires
	}
	cred, err := s.db.Queries().CreateServiceCredential(ctx, db.CreateServiceCredentialParams{
		Name: name, SecretHash: hash[:], Scopes: scopes, Now: s.now(), ExpiresAt: exp,
	})
	if err != nil {
		return db.ServiceCredential{}, "", err
	}
	return cred, credentialPrefix + hex.EncodeToString(cred.ID[:]) + "_" + encoded, nil
}

// parseCredential splits a credential token into its id and secret.
func parseCredential(raw string) (uuid.UUID, string, bool) {
	rest := raw[len(credentialPrefix):]
	if len(rest) != 32+1+43 || rest[32] != '_' {
		return uuid.UUID{}, "", false
	}
	b, err := hex.DecodeString(rest[:32])
	if err != nil {
		return uuid.UUID{}, "", false
	}
	id, err := uuid.FromBytes(b)
	return id, rest[33:], err == nil
}

// credentialSecretMatches compares the secret's hash in constant time.
func credentialSecretMatches(cred db.ServiceCredential, secret string) bool {
	hash := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(hash[:], cred.SecretHash) == 1
}
