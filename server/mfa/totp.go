// Package mfa holds the second-factor primitives: TOTP secrets and codes
// (RFC 6238 through github.com/pquerna/otp) and recovery codes. It keeps no
// state; which step was spent and which code was used is the database's.
package mfa

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// The TOTP parameters every authenticator app supports (RFC 6238 defaults).
const (
	period     = 30 // seconds per step
	secretSize = 20 // bytes: the HMAC-SHA-1 block's worth, as RFC 4226 advises
	qrSize     = 256
)

var codeOpts = totp.ValidateOpts{Period: period, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrollment is a new TOTP secret and what an authenticator app imports.
type Enrollment struct {
	Secret string // base32, no padding
	URI    string // otpauth://totp/...
	QRCode string // the URI as a PNG QR code, a data: URI
}

// NewTOTP makes a secret for an account labelled label at issuer.
func NewTOTP(issuer, label string) (Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: label, Period: period, SecretSize: secretSize,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return Enrollment{}, err
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return Enrollment{}, fmt.Errorf("qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, err
	}
	return Enrollment{
		Secret: key.Secret(),
		URI:    key.URL(),
		QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}

// Step is the TOTP time step of t.
func Step(t time.Time) int64 { return t.Unix() / period }

// MatchStep reports the time step whose code is code, among the step of now
// and one step either side (the clock skew RFC 6238 §6 allows), latest
// first. The caller refuses a step at or before the last one it accepted.
func MatchStep(secret, code string, now time.Time) (int64, bool) {
	if len(code) != int(otp.DigitsSix) {
		return 0, false
	}
	cur := Step(now)
	for step := cur + 1; step >= cur-1; step-- {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*period, 0), codeOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// Code is the code of secret at t; for tests and tools that play the app.
func Code(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(strings.ToUpper(secret), t, codeOpts)
}
