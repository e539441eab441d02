package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
)

// ceremonyTTL is how long a passkey challenge stays valid.
const ceremonyTTL = 5 * time.Minute

// NewWebAuthn is the relying party of the configured passkey settings:
// resident keys and user verification required, challenges that expire
// with ceremonyTTL.
func NewWebAuthn(cfg config.Config) (*webauthn.WebAuthn, error) {
	return webauthn.New(&webauthn.Config{
		RPID:          cfg.WebAuthnRPID,
		RPDisplayName: cfg.WebAuthnRPName,
		RPOrigins:     cfg.WebAuthnOrigins,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementRequired,
			UserVerification: protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: ceremonyTTL},
		},
	})
}

// The passkey ceremonies, as webauthn_ceremonies.ceremony names them.
const (
	ceremonyRegister = "register" // adding a passkey, by a session
	ceremonyLogin    = "login"    // a passwordless login
	ceremonyMFA      = "mfa"      // a passkey as the second step of a login
	ceremonyStepUp   = "step_up"  // a passkey raising a session
)

// errCeremonyVoid means a response answers no live ceremony of its kind:
// an unknown, used or expired challenge, or one of another ceremony.
var errCeremonyVoid = errors.New("no such live passkey ceremony")

// ceremonyOwner is who a ceremony belongs to, as far as it is known when it
// starts: the user (none for a passwordless login), the session that
// started it, or the login challenge it serves. until, when set, ends the
// ceremony before ceremonyTTL does (a registration ends with its step-up).
type ceremonyOwner struct {
	userID, sessionID, mfaChallengeID *uuid.UUID
	until                             time.Time
}

// saveCeremony stores a started ceremony's session data in q's
// transaction, under the SHA-256 of its challenge, so that any instance can
// finish it once, within ceremonyTTL.
func (s *Server) saveCeremony(ctx context.Context, q *db.Queries, kind string, sd *webauthn.SessionData, owner ceremonyOwner) error {
	data, err := json.Marshal(sd)
	if err != nil {
		return err
	}
	expires := s.now().Add(ceremonyTTL)
	if !owner.until.IsZero() && owner.until.Before(expires) {
		expires = owner.until
	}
	return q.CreateWebauthnCeremony(ctx, db.CreateWebauthnCeremonyParams{
		ChallengeHash: challengeHash(sd.Challenge), Ceremony: kind, UserID: owner.userID, SessionID: owner.sessionID,
		MfaChallengeID: owner.mfaChallengeID, SessionData: data, Now: s.now(), ExpiresAt: expires,
	})
}

// takeCeremony spends the live ceremony of kind whose challenge the
// response's client data carries, in q's transaction, and returns it with
// its session data; errCeremonyVoid when there is none. The response is
// checked against the session data by go-webauthn afterwards.
func (s *Server) takeCeremony(ctx context.Context, q *db.Queries, kind, challenge string) (db.WebauthnCeremony, webauthn.SessionData, error) {
	var sd webauthn.SessionData
	c, err := q.TakeWebauthnCeremony(ctx, db.TakeWebauthnCeremonyParams{ChallengeHash: challengeHash(challenge), Ceremony: kind, Now: s.now()})
	if errors.Is(err, database.ErrNotFound) {
		return c, sd, errCeremonyVoid
	}
	if err != nil {
		return c, sd, err
	}
	return c, sd, json.Unmarshal(c.SessionData, &sd)
}

// challengeHash is what the database keeps of a challenge (base64url, as
// the session data and the client data carry it).
func challengeHash(challenge string) []byte {
	sum := sha256.Sum256([]byte(challenge))
	return sum[:]
}

// passkeyUser is a user as go-webauthn sees it: the user handle is the
// user's id (16 random bytes, nothing personal), and its credentials are
// the user's passkeys.
type passkeyUser struct {
	user     db.User
	passkeys []db.Passkey
}

func (p passkeyUser) WebAuthnID() []byte          { return p.user.ID[:] }
func (p passkeyUser) WebAuthnName() string        { return p.user.Email }
func (p passkeyUser) WebAuthnDisplayName() string { return p.user.Email }

func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	creds := make([]webauthn.Credential, len(p.passkeys))
	for i, pk := range p.passkeys {
		creds[i] = credentialOf(pk)
	}
	return creds
}

// credentialOf is a stored passkey as go-webauthn's credential record.
func credentialOf(pk db.Passkey) webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, len(pk.Transports))
	for i, t := range pk.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID: pk.CredentialID, PublicKey: pk.PublicKey, AttestationType: pk.AttestationType, Transport: transports,
		Flags: webauthn.CredentialFlags{
			UserPresent: true, UserVerified: pk.UserVerified, BackupEligible: pk.BackupEligible, BackupState: pk.BackupState,
		},
		Authenticator: webauthn.Authenticator{AAGUID: pk.Aaguid, SignCount: uint32(pk.SignCount)}, //nolint:gosec // G115: stored from a uint32
	}
}

// passkeyMethod is the RFC 8176 method of a passkey: swk for one that may
// be synced (backup eligible), hwk for a device-bound one.
func passkeyMethod(backupEligible bool) string {
	if backupEligible {
		return "swk"
	}
	return "hwk"
}

// knownTransports keeps, once each, the transports WebAuthn defines from
// what the browser reported (unchecked, client-supplied text, stored and
// sent back in every options answer); anything else is dropped.
func knownTransports(reported []protocol.AuthenticatorTransport) []string {
	known := []protocol.AuthenticatorTransport{protocol.USB, protocol.NFC, protocol.BLE, protocol.SmartCard, protocol.Hybrid, protocol.Internal}
	out := []string{}
	for _, t := range known {
		if slices.Contains(reported, t) {
			out = append(out, string(t))
		}
	}
	return out
}
