package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Lifetimes of what the provider hands out.
const (
	requestLifetime     = 10 * time.Minute // from /authorize to the code exchange
	accessTokenLifetime = time.Hour
	idTokenLifetime     = time.Hour
)

var errNotFound = errors.New("not found")

// storage keeps everything in memory: a restart forgets requests, codes and
// tokens, and signs with a new key.
type storage struct {
	mu        sync.Mutex
	clients   map[string]Client
	users     map[string]User // by subject
	behaviour Behaviour
	requests  map[string]*authRequest
	codes     map[string]string // code -> request id
	tokens    map[string]accessToken

	key *rsaKey // published in the JWKS
	// stray is never published (SignWithUnpublishedKey); made when needed.
	stray struct {
		sync.Once
		key *rsaKey
		err error
	}
}

type accessToken struct {
	subject  string
	clientID string
	scopes   []string
	expires  time.Time
}

func newStorage(c Config) (*storage, error) {
	key, err := newRSAKey()
	if err != nil {
		return nil, err
	}
	s := &storage{
		clients:   map[string]Client{},
		users:     map[string]User{},
		behaviour: c.Behaviour,
		requests:  map[string]*authRequest{},
		codes:     map[string]string{},
		tokens:    map[string]accessToken{},
		key:       key,
	}
	for _, cl := range c.Clients {
		s.clients[cl.ID] = cl
	}
	for _, u := range c.Users {
		s.users[u.Subject] = u
	}
	return s, nil
}

func randomID() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// --- what the login form and the admin endpoints use ---

func (s *storage) currentBehaviour() Behaviour {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.behaviour
}

func (s *storage) setBehaviour(b Behaviour) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviour = b
}

func (s *storage) setUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.Subject] = u
}

func (s *storage) user(subject string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[subject]
	return u, ok
}

func (s *storage) clientFor(id string) (Client, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	return c, ok
}

// pendingRequest is the unfinished request id, if it is still valid.
func (s *storage) pendingRequest(id string) (*authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[id]
	if !ok || r.done || time.Since(r.created) > requestLifetime {
		return nil, false
	}
	return r, true
}

// signIn checks the credentials and, when they match, completes request id.
func (s *storage) signIn(id, username, password string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[id]
	if !ok || r.done {
		return false
	}
	for _, u := range s.users {
		nameOK := subtle.ConstantTimeCompare([]byte(u.Username), []byte(username)) == 1
		passOK := subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
		if nameOK && passOK {
			r.subject, r.authTime, r.done = u.Subject, time.Now(), true
			return true
		}
	}
	return false
}

// --- op.AuthStorage ---

// CreateAuthRequest stores a validated request. PKCE with S256 is required
// (RFC 9700 2.1.1), and answers go in the query only, where the `iss`
// parameter is added (issparam.go).
func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required")
	}
	if req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery {
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
	}
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired() // there is no session to reuse
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &authRequest{
		id:            randomID(),
		created:       time.Now(),
		clientID:      req.ClientID,
		redirectURI:   req.RedirectURI,
		state:         req.State,
		nonce:         req.Nonce,
		scopes:        req.Scopes,
		responseType:  req.ResponseType,
		codeChallenge: &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
		nonceOverride: s.behaviour.IDTokenNonce,
	}
	s.requests[r.id] = r
	return r, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.requests[id]
	if !ok || time.Since(r.created) > requestLifetime {
		return nil, errNotFound
	}
	return r, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errNotFound
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest runs when the code was exchanged: it is single use.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	r, ok := req.(*authRequest)
	if !ok {
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id := randomID()
	t := accessToken{subject: r.subject, clientID: r.clientID, scopes: r.scopes, expires: time.Now().Add(accessTokenLifetime)}
	s.tokens[id] = t
	return id, t.expires, nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("no refresh tokens")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *storage) TerminateSession(_ context.Context, subject, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.tokens {
		if t.subject == subject && t.clientID == clientID {
			delete(s.tokens, id)
		}
	}
	return nil
}

func (s *storage) RevokeToken(_ context.Context, tokenID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenID]; ok && t.clientID == clientID {
		delete(s.tokens, tokenID)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// --- keys ---

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	if s.currentBehaviour().SignWithUnpublishedKey {
		s.stray.Do(func() { s.stray.key, s.stray.err = newRSAKey() })
		return s.stray.key, s.stray.err
	}
	return s.key, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// --- op.OPStorage ---

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	c, ok := s.clientFor(id)
	if !ok {
		return nil, errNotFound
	}
	lifetime := idTokenLifetime
	if s.currentBehaviour().IDTokenExpired {
		lifetime = -time.Minute
	}
	return opClient{Client: c, idTokenLifetime: lifetime}, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	c, ok := s.clientFor(id)
	if !ok || subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return errors.New("wrong client_id or client_secret")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does it.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	u, ok := s.user(req.GetSubject())
	if !ok {
		return errNotFound
	}
	fillUserinfo(info, u, scopes, !u.EmailOnlyInUserinfo)
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint.
func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	u, userOK := s.users[t.subject]
	override := s.behaviour.UserinfoSubject
	s.mu.Unlock()
	if !ok || time.Now().After(t.expires) || !userOK {
		return errors.New("access token unknown or expired")
	}
	fillUserinfo(info, u, t.scopes, true)
	if override != "" {
		info.Subject = override
	}
	return nil
}

// fillUserinfo sets the claims of the scopes. The op package copies
// info.Subject into the ID token's sub, so it is always set.
func fillUserinfo(info *oidc.UserInfo, u User, scopes []string, withEmail bool) {
	info.Subject = u.Subject
	if slices.Contains(scopes, oidc.ScopeProfile) {
		info.PreferredUsername = u.Username
	}
	if !withEmail || !slices.Contains(scopes, oidc.ScopeEmail) || u.Email == "" {
		return
	}
	info.Email = u.Email
	// oidc.UserInfo omits a false email_verified; an explicit claim keeps
	// the answer as a provider that states it would give it.
	switch {
	case u.EmailVerifiedAsString && u.EmailVerified:
		info.AppendClaims("email_verified", "true")
	case u.EmailVerifiedAsString:
		info.AppendClaims("email_verified", "false")
	case u.EmailVerified:
		info.EmailVerified = true
	default:
		info.AppendClaims("email_verified", false)
	}
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not supported")
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

var _ op.Storage = (*storage)(nil)
var _ op.CanSetUserinfoFromRequest = (*storage)(nil)
