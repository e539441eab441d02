package testkit

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"sync"
)

// secretSet remembers every password and token that crossed the test client,
// so that each app's log can be searched for all of them when its test ends:
// the whole suite, not one test, guards "no secret is ever logged".
type secretSet struct {
	mu     sync.Mutex
	values map[string]bool
}

// secretFields are the JSON fields that carry secrets in either direction.
var secretFields = []string{"password", "current_password", "refresh_token", "access_token"}

// storedHash matches the stored forms of password hashes.
var storedHash = regexp.MustCompile(`\$(argon2id|bcrypt-sha256|2[aby])\$`)

func (s *secretSet) harvest(req *http.Request, reqBody, respBody []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.values == nil {
		s.values = map[string]bool{}
	}
	if _, tok, ok := strings.Cut(req.Header.Get("Authorization"), " "); ok {
		s.values[tok] = true
	}
	for _, body := range [][]byte{reqBody, respBody} {
		var fields map[string]any
		if json.Unmarshal(body, &fields) != nil {
			continue
		}
		for _, f := range secretFields {
			if v, ok := fields[f].(string); ok {
				s.values[v] = true
			}
		}
	}
}

// assertAbsent fails t if logs hold a harvested secret or any stored hash.
// Values shorter than six characters are too likely to occur by chance.
func (s *secretSet) assertAbsent(t T, logs string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for v := range s.values {
		if len(v) >= 6 && strings.Contains(logs, v) {
			t.Errorf("the log contains a secret sent or received by the client (%.4s...)", v)
		}
	}
	if loc := storedHash.FindStringIndex(logs); loc != nil {
		t.Errorf("the log contains a password hash near %q", logs[max(0, loc[0]-40):loc[1]])
	}
}
