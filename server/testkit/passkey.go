package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/authd/authd/gen/client"
)

// The relying party of a test app (the configuration's defaults): the
// origin a browser on it would report and the rpId its passkeys are for.
const (
	PasskeyOrigin = "http://localhost:8080" //nolint:gosec // G101: an origin, not a credential
	PasskeyRPID   = "localhost"
)

// TestAAGUID is the authenticator model a virtual authenticator reports
// unless told otherwise.
var TestAAGUID = [16]byte{0x7e, 0x57, 0xa0, 0x6d, 0x1d, 0x00, 0x4a, 0x1a, 0x9e, 0x57, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01}

// Authenticator is a software WebAuthn authenticator for tests, like a
// browser's virtual authenticator: it creates ES256 (P-256) credentials
// with "none" attestation, each a discoverable credential bound to its
// rpId and user handle, and signs assertions with a sign counter that
// rises by one per use. It is safe for concurrent use.
type Authenticator struct {
	// AAGUID is the model it reports in new credentials.
	AAGUID [16]byte
	// BackupEligible and BackupState are the BE and BS flags it sets
	// (a synced passkey has both; a security key neither).
	BackupEligible, BackupState bool
	// Transports it reports at registration; "internal" when empty.
	Transports []string

	mu    sync.Mutex
	creds []*VirtualCredential
}

// VirtualCredential is one credential of an Authenticator.
type VirtualCredential struct {
	ID         []byte
	Key        *ecdsa.PrivateKey
	RPID       string
	UserHandle []byte
	SignCount  uint32
}

// NewAuthenticator is an empty authenticator reporting TestAAGUID, not
// backup eligible, over the internal transport.
func NewAuthenticator() *Authenticator {
	return &Authenticator{AAGUID: TestAAGUID}
}

// PasskeyKnobs bend a ceremony the way an attacker or a broken client
// would; the zero value is an honest authenticator and browser.
type PasskeyKnobs struct {
	// RPIDHash signs for this rpId instead of the options' one.
	RPIDHash string
	// NoUV leaves the user-verified flag clear; NoUP the user-present flag.
	NoUV, NoUP bool
	// Type replaces the client data type (webauthn.create / webauthn.get).
	Type string
	// Challenge replaces the options' challenge in the client data.
	Challenge string
	// Credential picks the credential of an assertion (default: the
	// newest allowed one, or the newest for the rpId when the options
	// allow any).
	Credential []byte
	// UserHandle replaces the user handle of an assertion (nil: the
	// credential's); set OmitUserHandle to send none.
	UserHandle     []byte
	OmitUserHandle bool
	// KeepCount leaves the sign counter as it is (a counter of zero is
	// never raised when it stays zero, like authenticators without one).
	KeepCount bool
}

// Knob changes PasskeyKnobs.
type Knob func(*PasskeyKnobs)

// WithRPIDHash makes the authenticator data name another rpId.
func WithRPIDHash(rpID string) Knob { return func(k *PasskeyKnobs) { k.RPIDHash = rpID } }

// WithoutUV leaves the user-verified flag clear.
func WithoutUV() Knob { return func(k *PasskeyKnobs) { k.NoUV = true } }

// WithoutUP leaves the user-present flag clear.
func WithoutUP() Knob { return func(k *PasskeyKnobs) { k.NoUP = true } }

// WithClientDataType sets the client data type.
func WithClientDataType(typ string) Knob { return func(k *PasskeyKnobs) { k.Type = typ } }

// WithChallenge sets the client data's challenge (base64url).
func WithChallenge(c string) Knob { return func(k *PasskeyKnobs) { k.Challenge = c } }

// WithCredential picks the credential of an assertion by id.
func WithCredential(id []byte) Knob { return func(k *PasskeyKnobs) { k.Credential = id } }

// WithUserHandle sets an assertion's user handle.
func WithUserHandle(h []byte) Knob { return func(k *PasskeyKnobs) { k.UserHandle = h } }

// WithoutUserHandle sends an assertion without a user handle.
func WithoutUserHandle() Knob { return func(k *PasskeyKnobs) { k.OmitUserHandle = true } }

var b64 = base64.RawURLEncoding

// creationOptions is the part of PublicKeyCredentialCreationOptionsJSON
// the authenticator reads.
type creationOptions struct {
	Challenge string `json:"challenge"`
	RP        struct {
		ID string `json:"id"`
	} `json:"rp"`
	User struct {
		ID string `json:"id"`
	} `json:"user"`
	PubKeyCredParams []struct {
		Alg int64 `json:"alg"`
	} `json:"pubKeyCredParams"`
	ExcludeCredentials []struct {
		ID string `json:"id"`
	} `json:"excludeCredentials"`
}

// requestOptions is the part of PublicKeyCredentialRequestOptionsJSON the
// authenticator reads.
type requestOptions struct {
	Challenge        string `json:"challenge"`
	RPID             string `json:"rpId"`
	AllowCredentials []struct {
		ID string `json:"id"`
	} `json:"allowCredentials"`
}

// decodeOptions reads options given as authd answers them (a
// map[string]any), as JSON, or as any value that marshals to it; a
// "publicKey" wrapper is unwrapped.
func decodeOptions(options any, into any) error {
	var raw []byte
	switch o := options.(type) {
	case []byte:
		raw = o
	case string:
		raw = []byte(o)
	default:
		var err error
		if raw, err = json.Marshal(o); err != nil {
			return err
		}
	}
	var wrapped struct {
		PublicKey json.RawMessage `json:"publicKey"`
	}
	if err := json.Unmarshal(raw, &wrapped); err == nil && len(wrapped.PublicKey) > 0 {
		raw = wrapped.PublicKey
	}
	return json.Unmarshal(raw, into)
}

func knobsOf(knobs []Knob) PasskeyKnobs {
	var k PasskeyKnobs
	for _, f := range knobs {
		f(&k)
	}
	return k
}

// Register answers creation options (authd's `options`) as a browser on
// origin would: it creates a credential for the options' rp and user and
// returns the RegistrationResponseJSON, with the new credential.
func (a *Authenticator) Register(t T, options any, origin string, knobs ...Knob) (client.PasskeyCredential, *VirtualCredential) {
	t.Helper()
	cred, vc, err := a.register(options, origin, knobsOf(knobs))
	if err != nil {
		t.Fatalf("virtual authenticator: register: %v", err)
	}
	return cred, vc
}

func (a *Authenticator) register(options any, origin string, k PasskeyKnobs) (client.PasskeyCredential, *VirtualCredential, error) {
	var o creationOptions
	if err := decodeOptions(options, &o); err != nil {
		return client.PasskeyCredential{}, nil, fmt.Errorf("creation options: %w", err)
	}
	es256 := len(o.PubKeyCredParams) == 0
	for _, p := range o.PubKeyCredParams {
		es256 = es256 || p.Alg == int64(webauthncose.AlgES256)
	}
	if !es256 {
		return client.PasskeyCredential{}, nil, fmt.Errorf("the options do not accept ES256")
	}
	userHandle, err := b64.DecodeString(o.User.ID)
	if err != nil {
		return client.PasskeyCredential{}, nil, fmt.Errorf("user.id: %w", err)
	}
	rpID := o.RP.ID
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return client.PasskeyCredential{}, nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return client.PasskeyCredential{}, nil, err
	}
	vc := &VirtualCredential{ID: id, Key: key, RPID: rpID, UserHandle: userHandle}

	pub, err := cosePublicKey(&key.PublicKey)
	if err != nil {
		return client.PasskeyCredential{}, nil, err
	}
	// Attested credential data: AAGUID, id length, id, COSE key.
	attested := make([]byte, 0, 16+2+len(id)+len(pub))
	attested = append(attested, a.AAGUID[:]...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(id))) //nolint:gosec // G115: 32
	attested = append(attested, id...)
	attested = append(attested, pub...)
	authData := a.authData(rpID, k, protocol.FlagAttestedCredentialData, 0, attested)

	attObj, err := webauthncbor.Marshal(struct {
		Fmt      string         `cbor:"fmt"`
		AttStmt  map[string]any `cbor:"attStmt"`
		AuthData []byte         `cbor:"authData"`
	}{Fmt: "none", AttStmt: map[string]any{}, AuthData: authData})
	if err != nil {
		return client.PasskeyCredential{}, nil, err
	}
	clientData := clientDataJSON(firstNonEmpty(k.Type, "webauthn.create"), firstNonEmpty(k.Challenge, o.Challenge), origin)

	transports := a.Transports
	if len(transports) == 0 {
		transports = []string{"internal"}
	}
	a.mu.Lock()
	a.creds = append(a.creds, vc)
	a.mu.Unlock()

	cred := client.PasskeyCredential{
		Id: b64.EncodeToString(id), RawId: b64.EncodeToString(id), Type: "public-key",
		Response: map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData),
			"attestationObject": b64.EncodeToString(attObj),
			"transports":        transports,
		},
		AdditionalProperties: map[string]any{"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform"},
	}
	return cred, vc, nil
}

// Assert answers request options (authd's `options`) as a browser on
// origin would: with the credential the knobs name, else the newest one
// the options allow (any of the rpId's for a discoverable login). The
// credential's counter rises by one first, unless KeepCount.
func (a *Authenticator) Assert(t T, options any, origin string, knobs ...Knob) client.PasskeyCredential {
	t.Helper()
	cred, err := a.assert(options, origin, knobsOf(knobs))
	if err != nil {
		t.Fatalf("virtual authenticator: assert: %v", err)
	}
	return cred
}

func (a *Authenticator) assert(options any, origin string, k PasskeyKnobs) (client.PasskeyCredential, error) {
	var o requestOptions
	if err := decodeOptions(options, &o); err != nil {
		return client.PasskeyCredential{}, fmt.Errorf("request options: %w", err)
	}
	allowed := map[string]bool{}
	for _, c := range o.AllowCredentials {
		allowed[c.ID] = true
	}
	a.mu.Lock()
	var vc *VirtualCredential
	for i := len(a.creds) - 1; i >= 0; i-- {
		c := a.creds[i]
		id := b64.EncodeToString(c.ID)
		switch {
		case k.Credential != nil:
			if id != b64.EncodeToString(k.Credential) {
				continue
			}
		case len(allowed) > 0:
			if !allowed[id] {
				continue
			}
		case c.RPID != o.RPID:
			continue
		}
		vc = c
		break
	}
	if vc == nil {
		a.mu.Unlock()
		return client.PasskeyCredential{}, fmt.Errorf("no credential for rpId %q among %d allowed", o.RPID, len(allowed))
	}
	if !k.KeepCount {
		vc.SignCount++
	}
	count := vc.SignCount
	a.mu.Unlock()

	rpID := o.RPID
	if rpID == "" {
		rpID = vc.RPID
	}
	authData := a.authData(rpID, k, 0, count, nil)
	clientData := clientDataJSON(firstNonEmpty(k.Type, "webauthn.get"), firstNonEmpty(k.Challenge, o.Challenge), origin)
	sum := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, vc.Key, digest[:])
	if err != nil {
		return client.PasskeyCredential{}, err
	}
	response := map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"authenticatorData": b64.EncodeToString(authData),
		"signature":         b64.EncodeToString(sig),
	}
	switch {
	case k.OmitUserHandle:
	case k.UserHandle != nil:
		response["userHandle"] = b64.EncodeToString(k.UserHandle)
	default:
		response["userHandle"] = b64.EncodeToString(vc.UserHandle)
	}
	return client.PasskeyCredential{
		Id: b64.EncodeToString(vc.ID), RawId: b64.EncodeToString(vc.ID), Type: "public-key", Response: response,
		AdditionalProperties: map[string]any{"clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform"},
	}, nil
}

// Credentials are the authenticator's credentials, oldest first.
func (a *Authenticator) Credentials() []*VirtualCredential {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*VirtualCredential(nil), a.creds...)
}

// SetSignCount sets the counter of the credential with id (a clone of an
// authenticator carries an old count); it reports whether there is one.
func (a *Authenticator) SetSignCount(id []byte, n uint32) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.creds {
		if string(c.ID) == string(id) {
			c.SignCount = n
			return true
		}
	}
	return false
}

// SignCount is the counter of the credential with id.
func (a *Authenticator) SignCount(id []byte) uint32 {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.creds {
		if string(c.ID) == string(id) {
			return c.SignCount
		}
	}
	return 0
}

// Remove forgets the credential with id (the user deleted it on the device).
func (a *Authenticator) Remove(id []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, c := range a.creds {
		if string(c.ID) == string(id) {
			a.creds = append(a.creds[:i], a.creds[i+1:]...)
			return
		}
	}
}

// authData is rpIdHash || flags || signCount || attested credential data.
func (a *Authenticator) authData(rpID string, k PasskeyKnobs, extra protocol.AuthenticatorFlags, count uint32, attested []byte) []byte {
	rpHash := sha256.Sum256([]byte(firstNonEmpty(k.RPIDHash, rpID)))
	flags := extra
	if !k.NoUP {
		flags |= protocol.FlagUserPresent
	}
	if !k.NoUV {
		flags |= protocol.FlagUserVerified
	}
	if a.BackupEligible {
		flags |= protocol.FlagBackupEligible
	}
	if a.BackupState {
		flags |= protocol.FlagBackupState
	}
	out := make([]byte, 0, 37+len(attested))
	out = append(out, rpHash[:]...)
	out = append(out, byte(flags))
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

// cosePublicKey is key as a COSE_Key (EC2, ES256, P-256).
func cosePublicKey(key *ecdsa.PublicKey) ([]byte, error) {
	raw, err := key.ECDH()
	if err != nil {
		return nil, err
	}
	point := raw.Bytes() // 0x04 || X || Y
	return webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         int64(webauthncose.P256),
		XCoord:        point[1:33],
		YCoord:        point[33:65],
	})
}

// clientDataJSON is CollectedClientData as a browser serialises it.
func clientDataJSON(typ, challenge, origin string) []byte {
	out, _ := json.Marshal(struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{typ, challenge, origin, false})
	return out
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
