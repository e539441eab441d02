package mail

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderer_EveryKindRendersWithoutTemplateErrors(t *testing.T) {
	t.Parallel()
	r, err := NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		got, err := r.Render(k, Data{Email: "ada@example.com", NewEmail: "ada@new.example", Link: "https://x.example/a?token=T0K", ExpiresIn: "1 hour"})
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

func TestSealer_OpensWhatItSealedAcrossKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	before, _ := NewSealer([][]byte{oldKey})
	after, _ := NewSealer([][]byte{newKey, oldKey})
	stranger, _ := NewSealer([][]byte{bytes.Repeat([]byte{3}, 32)})

	sealed := before.Seal("open https://x.example/?token=secret")
	if strings.Contains(sealed, "secret") {
		t.Fatal("sealed body holds the token in clear")
	}
	for name, s := range map[string]*Sealer{"same key": before, "after rotation": after} {
		if got, err := s.Open(sealed); err != nil || !strings.Contains(got, "token=secret") {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	if _, err := stranger.Open(sealed); err == nil {
		t.Error("another key opened the body")
	}
	tampered := sealed[:len(sealed)-2] + "AA"
	if _, err := before.Open(tampered); err == nil {
		t.Error("a tampered body opened")
	}
	if _, err := before.Open("plain text"); err == nil {
		t.Error("an unsealed body opened")
	}
}
