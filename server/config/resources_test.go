package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// file writes content to a new file and returns its path.
func file(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoad_KeysFileProblemsAreConfigErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ content, want string }{
		{"", "is empty; create it with `authd keys generate`"},
		{"\n  \n", "is empty"},
		{"{not json", "is not a JWK set"},
		{`{"keys":[]}`, "is not a JWK set"},
	} {
		_, err := Load(dev(map[string]string{"AUTHD_JWT_KEYS_FILE": file(t, "keys.json", tc.content)}))
		if line := onlyLineFor(t, err, "AUTHD_JWT_KEYS_FILE"); !strings.Contains(line, tc.want) {
			t.Errorf("keys file %q: %q does not say %q", tc.content, line, tc.want)
		}
	}
	_, err := Load(dev(map[string]string{"AUTHD_JWT_KEYS_FILE": filepath.Join(t.TempDir(), "missing.json")}))
	onlyLineFor(t, err, "AUTHD_JWT_KEYS_FILE")
}

func TestLoad_DataKeysFileProblemsAreConfigErrors(t *testing.T) {
	t.Parallel()
	const secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for _, tc := range []struct{ content, want string }{
		{"", "is empty; create it with `authd datakeys generate`"},
		{"\n  \n", "is empty"},
		{"{not json", "is not a data key set"},
		{`{"keys":[]}`, "no keys"},
		{`{"keys":[{"kid":"a","secret":"` + secret + `","status":"decrypt"}]}`, "exactly one"},
		{`{"keys":[{"kid":"a","secret":"` + secret[:20] + `","status":"primary"}]}`, "want 32"},
		{`{"keys":[{"kid":"a","secret":"` + secret + `","status":"primary","alg":"x"}]}`, "unknown field"},
	} {
		_, err := Load(dev(map[string]string{"AUTHD_DATA_KEYS_FILE": file(t, "datakeys.json", tc.content)}))
		if line := onlyLineFor(t, err, "AUTHD_DATA_KEYS_FILE"); !strings.Contains(line, tc.want) {
			t.Errorf("data keys file %q: %q does not say %q", tc.content, line, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), secret[:20]) {
			t.Errorf("data keys file %q: the message shows the secret: %v", tc.content, err)
		}
	}
	_, err := Load(dev(map[string]string{"AUTHD_DATA_KEYS_FILE": filepath.Join(t.TempDir(), "missing.json")}))
	onlyLineFor(t, err, "AUTHD_DATA_KEYS_FILE")
}

func TestLoad_AlgorithmErrorListsTheValidOnes(t *testing.T) {
	t.Parallel()
	_, err := Load(dev(map[string]string{"AUTHD_JWT_ALGORITHM": "BOGUS"}))
	if line := onlyLineFor(t, err, "AUTHD_JWT_ALGORITHM"); !strings.Contains(line, "EdDSA, ES256 or RS256") || !strings.Contains(line, "BOGUS") {
		t.Errorf("algorithm error %q", line)
	}
}

func TestLoad_RedisURLIsParsedAsTheClientWill(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ value, want string }{
		{"redis://:s3cret-pw@cache:6379/zero", "database number"},
		{"redis://:s3cret-pw@cache:6379/0?dial_timeout=soon", "dial_timeout"},
		{"http://:s3cret-pw@cache:6379/0", "scheme"},
	} {
		_, err := Load(dev(map[string]string{"REDIS_URL": tc.value}))
		if line := onlyLineFor(t, err, "REDIS_URL"); !strings.Contains(line, tc.want) {
			t.Errorf("%s: %q does not say %q", tc.value, line, tc.want)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the password is echoed:\n%v", tc.value, err)
		}
	}
	if _, err := Load(dev(map[string]string{"REDIS_URL": "rediss://user:pw@cache:6380/1?dial_timeout=3s"})); err != nil {
		t.Errorf("a valid REDIS_URL refused: %v", err)
	}
}

func TestLoad_SMTPURLAndTemplatesAreCheckedAtLoad(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"smtp://mailer:s3cret-pw@mail.example.com:99999999999999999999", "http://mailer:s3cret-pw@mail.example.com", "smtp://mailer:s3cret-pw@:587"} {
		_, err := Load(dev(map[string]string{"AUTHD_SMTP_URL": v}))
		onlyLineFor(t, err, "AUTHD_SMTP_URL")
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the password is echoed:\n%v", v, err)
		}
	}
	_, err := Load(dev(map[string]string{"AUTHD_MAIL_TEMPLATES_DIR": filepath.Join(t.TempDir(), "missing")}))
	onlyLineFor(t, err, "AUTHD_MAIL_TEMPLATES_DIR")
	broken := filepath.Dir(file(t, "verify_email.subject", "{{ .Nope"))
	_, err = Load(dev(map[string]string{"AUTHD_MAIL_TEMPLATES_DIR": broken}))
	onlyLineFor(t, err, "AUTHD_MAIL_TEMPLATES_DIR")
}
