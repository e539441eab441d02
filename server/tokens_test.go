package server_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

// forger crafts access tokens byte by byte and signs them with the app's own
// private key, so each attack differs from a valid token in one way only.
type forger struct {
	t        *testing.T
	priv     ed25519.PrivateKey
	kid      string
	sub, sid string
}

func newForger(t *testing.T, app *testkit.App, access string) *forger {
	set, err := jwk.Parse(app.PrivateKeys)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := set.Key(0)
	f := &forger{t: t}
	if err := jwk.Export(key, &f.priv); err != nil {
		t.Fatal(err)
	}
	f.kid, _ = key.KeyID()
	tok, err := jwt.ParseInsecure([]byte(access))
	if err != nil {
		t.Fatal(err)
	}
	f.sub, _ = tok.Subject()
	if err := tok.Get("sid", &f.sid); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *forger) header() map[string]any {
	return map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": f.kid}
}

func (f *forger) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": "authd", "aud": []string{"authd"}, "sub": f.sub, "sid": f.sid,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "jti": "forged",
	}
}

func (f *forger) segment(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		f.t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signed is header.claims signed with the app's Ed25519 key.
func (f *forger) signed(header, claims map[string]any) string {
	input := f.segment(header) + "." + f.segment(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(f.priv, []byte(input)))
}

func TestAccessToken_Attacks(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	_, victim := app.NewUser(t)
	f := newForger(t, app, pair.AccessToken)
	victimClaims := newForger(t, app, victim.AccessToken)

	with := func(edit func(h, c map[string]any)) string {
		h, c := f.header(), f.claims()
		edit(h, c)
		return f.signed(h, c)
	}
	pubJWKS := string(app.Deps.Keys.PublicJSON())
	otherKeys, _ := token.GenerateSet("EdDSA")
	otherSet, _ := jwk.Parse(otherKeys)
	otherKey, _ := otherSet.Key(0)
	other := &forger{t: t, sub: f.sub, sid: f.sid, kid: f.kid}
	if err := jwk.Export(otherKey, &other.priv); err != nil {
		t.Fatal(err)
	}

	// The control: a token forged the honest way is accepted, so every
	// refusal below is caused by its one change.
	if got := meStatus(t, app, with(func(h, c map[string]any) {})); got != http.StatusOK {
		t.Fatalf("control token refused: %d", got)
	}

	attacks := map[string]string{
		"alg none": func() string {
			h := f.header()
			h["alg"] = "none"
			return f.segment(h) + "." + f.segment(f.claims()) + "."
		}(),
		"HS256 keyed with the public JWKS": func() string {
			h := f.header()
			h["alg"] = "HS256"
			input := f.segment(h) + "." + f.segment(f.claims())
			mac := hmac.New(sha256.New, []byte(pubJWKS))
			mac.Write([]byte(input))
			return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		}(),
		"HS256 keyed with the raw public key": func() string {
			h := f.header()
			h["alg"] = "HS256"
			input := f.segment(h) + "." + f.segment(f.claims())
			mac := hmac.New(sha256.New, f.priv.Public().(ed25519.PublicKey))
			mac.Write([]byte(input))
			return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
		}(),
		"expired beyond leeway": with(func(_, c map[string]any) {
			c["exp"] = time.Now().Add(-time.Minute).Unix()
		}),
		"nbf in the future":                    with(func(_, c map[string]any) { c["nbf"] = time.Now().Add(5 * time.Minute).Unix() }),
		"wrong issuer":                         with(func(_, c map[string]any) { c["iss"] = "https://evil.example" }),
		"wrong audience":                       with(func(_, c map[string]any) { c["aud"] = []string{"another-service"} }),
		"no exp":                               with(func(_, c map[string]any) { delete(c, "exp") }),
		"no sid":                               with(func(_, c map[string]any) { delete(c, "sid") }),
		"unknown kid":                          with(func(h, _ map[string]any) { h["kid"] = "not-ours" }),
		"no kid":                               with(func(h, _ map[string]any) { delete(h, "kid") }),
		"typ JWT":                              with(func(h, _ map[string]any) { h["typ"] = "JWT" }),
		"signed by a foreign key with our kid": other.signed(f.header(), f.claims()),
		"sub of another user":                  with(func(_, c map[string]any) { c["sub"] = victimClaims.sub }),
		"tampered payload": func() string {
			parts := strings.Split(pair.AccessToken, ".")
			c := f.claims()
			c["sub"] = victimClaims.sub
			c["sid"] = victimClaims.sid
			return parts[0] + "." + f.segment(c) + "." + parts[2]
		}(),
		"tampered signature": func() string {
			b := []byte(pair.AccessToken)
			if b[len(b)-5] == 'A' {
				b[len(b)-5] = 'B'
			} else {
				b[len(b)-5] = 'A'
			}
			return string(b)
		}(),
		"garbage":           "not.a.jwt",
		"two segments":      strings.Join(strings.Split(pair.AccessToken, ".")[:2], "."),
		"empty":             "",
		"refresh as bearer": pair.RefreshToken,
	}
	for name, tok := range attacks {
		t.Run(name, func(t *testing.T) {
			resp, err := app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(tok))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode() != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401: %s", resp.StatusCode(), resp.Body)
			}
			if !strings.HasPrefix(resp.HTTPResponse.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("WWW-Authenticate = %q", resp.HTTPResponse.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestAccessToken_ExpiryHonoursLeeway(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)

	app.Clock.Advance(15*time.Minute + 20*time.Second) // past exp, inside the 30 s leeway
	if got := meStatus(t, app, pair.AccessToken); got != http.StatusOK {
		t.Errorf("inside leeway: %d, want 200", got)
	}
	app.Clock.Advance(20 * time.Second)
	if got := meStatus(t, app, pair.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("beyond leeway: %d, want 401", got)
	}
}

func TestAccessToken_SchemeIsCaseInsensitiveButRequired(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	for header, want := range map[string]int{
		"bearer " + pair.AccessToken: http.StatusOK,
		"Basic " + pair.AccessToken:  http.StatusUnauthorized,
		pair.AccessToken:             http.StatusUnauthorized,
	} {
		resp, err := app.Client.GetMeWithResponse(context.Background(), testkit.Header("Authorization", header))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != want {
			t.Errorf("Authorization %.12q...: %d, want %d", header, resp.StatusCode(), want)
		}
	}
}
