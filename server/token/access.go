package token

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// AccessType is the JWT typ header of access tokens (RFC 9068).
const AccessType = "at+jwt"

// ErrInvalid is returned for every access token that must be refused; the
// cause is wrapped for logs, never shown to clients.
var ErrInvalid = errors.New("invalid access token")

// Claims are what authd reads from a verified access token.
type Claims struct {
	UserID    uuid.UUID
	SessionID uuid.UUID
	// AMR are the session's authentication methods (RFC 8176) and AuthTime
	// when the user last authenticated; a token without them (issued before
	// they existed) reads as a password login at the zero time, which no
	// step-up accepts.
	AMR      []string
	AuthTime time.Time
	// Roles are the user's roles when the token was issued (absent: none),
	// for relying services; authd itself reads them from the user row.
	Roles []string
}

// The authentication methods (RFC 8176) authd records.
const (
	MethodPassword  = "pwd"
	MethodOTP       = "otp"
	MethodFederated = "fed" // an OpenID Connect provider's login
)

// secondFactors are the methods that make a session level 2.
var secondFactors = []string{MethodOTP, "hwk", "swk"}

// AAL is the assurance level of a session authenticated by amr: 2 with a
// second factor, else 1.
func AAL(amr []string) int {
	for _, m := range amr {
		if slices.Contains(secondFactors, m) {
			return 2
		}
	}
	return 1
}

// AAL is the assurance level of the token's session.
func (c Claims) AAL() int { return AAL(c.AMR) }

// Authority signs and verifies access tokens.
type Authority struct {
	keys     *Keys
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	verify   []jwt.ParseOption // built once: they are the same for every token
}

// NewAuthority returns an Authority; now is the clock (time.Now in production).
func NewAuthority(keys *Keys, issuer, audience string, ttl, leeway time.Duration, now func() time.Time) *Authority {
	a := &Authority{keys: keys, issuer: issuer, audience: audience, ttl: ttl, now: now}
	a.verify = []jwt.ParseOption{
		jwt.WithKeyProvider(jws.KeyProviderFunc(a.provideKey)),
		jwt.WithIssuer(issuer),
		jwt.WithAudience(audience),
		jwt.WithAcceptableSkew(leeway),
		jwt.WithClock(jwt.ClockFunc(now)),
		jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithRequiredClaim(jwt.IssuedAtKey),
		jwt.WithRequiredClaim(jwt.SubjectKey),
		jwt.WithRequiredClaim("sid"),
	}
	return a
}

// TTL is the lifetime of the access tokens this Authority issues.
func (a *Authority) TTL() time.Duration { return a.ttl }

// accessPayload is an access token's claims as signed: a fixed struct
// marshals in a fraction of the time jwt.Token's generic claim map takes,
// and every refresh and login signs one. Verify reads it back through jwx.
type accessPayload struct {
	Issuer   string   `json:"iss"`
	Audience []string `json:"aud"`
	Subject  string   `json:"sub"`
	IssuedAt int64    `json:"iat"`
	Expires  int64    `json:"exp"`
	ID       string   `json:"jti"`
	Session  string   `json:"sid"`
	AMR      []string `json:"amr"`
	AAL      int      `json:"aal"`
	ACR      string   `json:"acr"`
	AuthTime int64    `json:"auth_time"`
	Roles    []string `json:"roles,omitempty"`
}

// Issue signs an access token for a user's session.
func (a *Authority) Issue(c Claims) (string, error) {
	now := a.now()
	payload, err := json.Marshal(accessPayload{
		Issuer: a.issuer, Audience: []string{a.audience}, Subject: c.UserID.String(),
		IssuedAt: now.Unix(), Expires: now.Add(a.ttl).Unix(), ID: rand.Text(),
		Session: c.SessionID.String(), AMR: c.AMR, AAL: AAL(c.AMR), ACR: fmt.Sprintf("aal%d", AAL(c.AMR)),
		AuthTime: c.AuthTime.Unix(), Roles: c.Roles,
	})
	if err != nil {
		return "", err
	}
	hdr := jws.NewHeaders()
	if err := errors.Join(hdr.Set(jws.TypeKey, AccessType), hdr.Set(jws.KeyIDKey, a.keys.signerKid)); err != nil {
		return "", err
	}
	out, err := jws.Sign(payload, jws.WithKey(a.keys.signerAlg, a.keys.signer, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// Verify checks signature, typ, kid, iss, aud, exp, nbf and iat and returns the claims.
func (a *Authority) Verify(raw string) (Claims, error) {
	tok, err := jwt.ParseString(raw, a.verify...)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	sub, _ := tok.Subject()
	var sid string
	if err := tok.Get("sid", &sid); err != nil {
		return Claims{}, fmt.Errorf("%w: sid: %w", ErrInvalid, err)
	}
	userID, err1 := uuid.Parse(sub)
	sessionID, err2 := uuid.Parse(sid)
	if err := errors.Join(err1, err2); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	c := Claims{UserID: userID, SessionID: sessionID, AMR: []string{MethodPassword}}
	if amr := stringsClaim(tok, "amr"); len(amr) > 0 {
		c.AMR = amr
	}
	c.Roles = stringsClaim(tok, "roles")
	var authTime float64 // JSON numbers decode as float64
	if tok.Get("auth_time", &authTime) == nil && authTime > 0 {
		c.AuthTime = time.Unix(int64(authTime), 0)
	}
	return c, nil
}

// stringsClaim is the strings of an array claim (nil when absent or
// empty); entries that are not strings are skipped.
func stringsClaim(tok jwt.Token, name string) []string {
	var raw []any // JSON arrays decode as []any
	if tok.Get(name, &raw) != nil || len(raw) == 0 {
		return nil
	}
	out := make([]string, 0, len(raw))
	for _, v := range raw {
		if v, ok := v.(string); ok {
			out = append(out, v)
		}
	}
	return out
}

// provideKey picks the verification key by kid and pins the algorithm to the
// key's own, so "none", HS256-with-the-public-key and other swaps never verify.
func (a *Authority) provideKey(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	h := sig.ProtectedHeaders()
	if typ, _ := h.Type(); typ != AccessType {
		return fmt.Errorf("typ %q is not %s", typ, AccessType)
	}
	kid, _ := h.KeyID()
	v, ok := a.keys.verifiers[kid]
	if !ok {
		return fmt.Errorf("unknown kid %q", kid)
	}
	if alg, _ := h.Algorithm(); alg != v.alg {
		return fmt.Errorf("alg %s does not match key %q", alg, kid)
	}
	sink.Key(v.alg, v.key)
	return nil
}
