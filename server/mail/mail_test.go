package mail

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authd/authd/server/token"
)

func TestRenderer_EveryKindRendersWithoutTemplateErrors(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		got, err := r.Render(k, Data{Email: "ada@example.com", NewEmail: "ada@new.example", Link: "https://x.example/a?token=T0K", ExpiresIn: "1 hour", Provider: "corp"})
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if got.Subject == "" || strings.Contains(got.Subject, "\n") || got.Text == "" || got.HTML == "" {
			t.Errorf("%s: %+v", k, got)
		}
	}
	if _, err := r.Render("nope", Data{}); err == nil {
		t.Error("unknown kind rendered")
	}
}

// TestRenderer_IdentityNoticeNamesTheProvider: the user learns which
// sign-in stopped working.
func TestRenderer_IdentityNoticeNamesTheProvider(t *testing.T) {
	t.Parallel()
	r, _ := NewRenderer("")
	got, err := r.Render(KindIdentityUnlinked, Data{Email: "ada@example.com", Provider: "corp"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.Text, "corp sign-in") || !strings.Contains(got.HTML, "corp sign-in") || !strings.Contains(got.Text, "ada@example.com") {
		t.Errorf("identity_unlinked notice: %+v", got)
	}
}

func TestRenderer_HTMLEscapesUserInput(t *testing.T) {
	t.Parallel()
	r, _ := NewRenderer("")
	got, err := r.Render(KindEmailChangeConfirm, Data{NewEmail: `<script>x</script>@evil.example`, Link: "L", ExpiresIn: "1 hour"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.HTML, "<script>") {
		t.Errorf("HTML not escaped: %s", got.HTML)
	}
}

func TestRenderer_DirectoryOverridesOneTemplate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "password_reset.subject"), []byte("Custom: reset for {{.Email}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := NewRenderer(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := r.Render(KindPasswordReset, Data{Email: "ada@example.com", Link: "L", ExpiresIn: "1 hour"})
	if got.Subject != "Custom: reset for ada@example.com" || !strings.Contains(got.Text, "L") {
		t.Errorf("override: %+v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "verify_email.txt"), []byte("{{.Nope}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewRenderer(dir); err == nil || !strings.Contains(err.Error(), "verify_email") {
		t.Errorf("a template naming an unknown field loaded: %v", err)
	}
}

func TestLogSender_WritesTheWholeMail(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	if err := s.Send(context.Background(), Message{ID: "m1", Kind: KindVerifyEmail, To: "ada@example.com", Subject: "S", Text: "open https://x.example/?token=abc"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "token=abc") || !strings.Contains(buf.String(), "ada@example.com") {
		t.Errorf("log: %s", buf.String())
	}
}

func TestSMTP_MessageIDUsesTheSenderDomain(t *testing.T) {
	t.Parallel()
	s, err := NewSMTP("smtp://127.0.0.1:25", "authd <no-reply@auth.example>", 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.domain != "auth.example" {
		t.Errorf("domain %q, want auth.example (no stray '>')", s.domain)
	}
}

func TestNewSMTP_RejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "http://x", "smtp://", "smtp://host:notaport"} {
		if _, err := NewSMTP(u, "a@b.example", 0); err == nil {
			t.Errorf("%q accepted", u)
		}
	}
	if _, err := NewSMTP("smtps://user:pw@mail.example:465?tls=required", "authd <a@b.example>", 0); err != nil {
		t.Errorf("valid URL refused: %v", err)
	}
}

func TestRetryDelayDoublesToTheCap(t *testing.T) {
	t.Parallel()
	w := &Worker{opts: WorkerOptions{RetryBase: 30e9, RetryMax: 240e9}}
	want := []int64{30, 60, 120, 240, 240}
	for i, secs := range want {
		if got := w.retryDelay(i + 1).Seconds(); int64(got) != secs {
			t.Errorf("attempt %d: %vs, want %ds", i+1, got, secs)
		}
	}
}

// sealerFor is the sealer of an instance running keyFile.
func sealerFor(t *testing.T, keyFile []byte) *Sealer {
	t.Helper()
	keys, err := token.ParseKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSealer(keys.Secrets(SecretLabel))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signerOf(t *testing.T, keyFile []byte) string {
	t.Helper()
	keys, err := token.ParseKeys(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return keys.Signer()
}

func newKeyFile(t *testing.T) []byte {
	t.Helper()
	f, err := token.GenerateSet("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestSealer_OpensWhatItSealedAcrossKeyRotation(t *testing.T) {
	t.Parallel()
	oldFile := newKeyFile(t)
	published, newKid, err := token.AddKey(oldFile, "EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	promoted, _ := token.PromoteKey(published, newKid)
	oldKid := signerOf(t, oldFile)
	retired, _ := token.RetireKey(promoted, oldKid)
	before, after := sealerFor(t, oldFile), sealerFor(t, retired)
	stranger := sealerFor(t, newKeyFile(t))

	sealed := before.Seal("open https://x.example/?token=secret")
	if strings.Contains(sealed, "secret") || !strings.HasPrefix(sealed, "sealed:v2:"+oldKid+":") {
		t.Fatalf("sealed body: %s", sealed)
	}
	for name, s := range map[string]*Sealer{"same key": before, "the old key retired": after} {
		if got, err := s.Open(sealed); err != nil || !strings.Contains(got, "token=secret") {
			t.Errorf("%s: %q, %v", name, got, err)
		}
		if got := s.SealedWith(sealed); got != oldKid {
			t.Errorf("%s: sealed with %q, want %q", name, got, oldKid)
		}
	}
	if !strings.HasPrefix(after.Seal("x"), "sealed:v2:"+newKid+":") {
		t.Error("after the promotion, mail is not sealed with the new key")
	}
	if _, err := stranger.Open(sealed); !errors.Is(err, ErrNoKey) {
		t.Errorf("another key file: %v, want ErrNoKey", err)
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := before.Open(tampered); err == nil {
		t.Error("a tampered body opened")
	}
	relabelled := strings.Replace(sealed, oldKid, newKid, 1) // the kid is bound to the body
	if _, err := after.Open(relabelled); err == nil {
		t.Error("a body opened under another kid")
	}
	if _, err := before.Open("plain text"); err == nil {
		t.Error("an unsealed body opened")
	}
}

// testdata holds a key file and a body sealed with it by authd before the
// HKDF derivation (sealed:v1), made by that version's Sealer.
func TestSealer_OpensMailSealedBeforeTheHKDFUpgrade(t *testing.T) {
	t.Parallel()
	keyFile, err1 := os.ReadFile("testdata/keys-before-v2.json")
	old, err2 := os.ReadFile("testdata/sealed-before-v2.txt")
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	kid := signerOf(t, keyFile)
	// The upgraded deployment rotates on: the key is retired, and its file
	// is written anew, with members authd did not write.
	next, newKid, err := token.AddKey(keyFile, "EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	next, _ = token.PromoteKey(next, newKid)
	next, _ = token.RetireKey(next, kid)
	for name, file := range map[string][]byte{"the same file": keyFile, "after a rotation": next} {
		s := sealerFor(t, file)
		got, err := s.Open(string(old))
		if err != nil || got != "open https://x.example/reset-password?token=from-before-v2" {
			t.Errorf("%s: %q, %v", name, got, err)
		}
		if s.SealedWith(string(old)) != kid {
			t.Errorf("%s: sealed with %q, want %q", name, s.SealedWith(string(old)), kid)
		}
	}
	if sealed := sealerFor(t, keyFile).Seal("x"); !strings.HasPrefix(sealed, "sealed:v2:"+kid+":") {
		t.Errorf("new mail is not sealed with v2: %.30s", sealed)
	}
}

func TestErrorText_EachDistinctLineOnce(t *testing.T) {
	t.Parallel()
	opened := errors.New(`no key opens the body (sealed with key "k1")`)
	other := errors.New("dial failed")
	for err, want := range map[error]string{
		errors.Join(opened, opened):        `no key opens the body (sealed with key "k1")`,
		errors.Join(opened, other, opened): `no key opens the body (sealed with key "k1"); dial failed`,
		other:                              "dial failed",
	} {
		if got := errorText(err); got != want {
			t.Errorf("errorText(%q) = %q, want %q", err, got, want)
		}
	}
}
