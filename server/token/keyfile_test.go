package token

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func kidOf(t *testing.T, file []byte) string {
	t.Helper()
	keys, err := ParseKeys(file)
	if err != nil {
		t.Fatal(err)
	}
	return keys.Signer()
}

func step(t *testing.T, edit func([]byte, string) ([]byte, error), file []byte, kid string) []byte {
	t.Helper()
	file, err := edit(file, kid)
	if err != nil {
		t.Fatal(err)
	}
	return file
}

func TestKeyFile_AddedKeyIsPublishedAndAcceptedButDoesNotSignUntilPromoted(t *testing.T) {
	t.Parallel()
	file := generate(t, "EdDSA")
	oldKid := kidOf(t, file)
	published, newKid, err := AddKey(file, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := ParseKeys(published)
	if keys.Signer() != oldKid {
		t.Errorf("after adding a key, %s signs, want %s", keys.Signer(), oldKid)
	}
	pub := string(keys.PublicJSON())
	if !strings.Contains(pub, newKid) || !strings.Contains(pub, oldKid) || strings.Contains(pub, StatusMember) {
		t.Errorf("JWKS after adding a key: %s", pub)
	}
	promoted := step(t, PromoteKey, published, newKid)
	if kidOf(t, promoted) != newKid {
		t.Errorf("after promoting %s, %s signs", newKid, kidOf(t, promoted))
	}
	// An instance still on the published file accepts what a promoted one signs.
	tok, _ := authority(t, promoted, time.Now).Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})
	if _, err := authority(t, published, time.Now).Verify(tok); err != nil {
		t.Errorf("a token of the verify-only key refused: %v", err)
	}
}

func TestKeyFile_RetiredKeyIsNeitherPublishedNorAccepted(t *testing.T) {
	t.Parallel()
	file := generate(t, "EdDSA")
	oldKid := kidOf(t, file)
	published, newKid, _ := AddKey(file, "EdDSA")
	promoted := step(t, PromoteKey, published, newKid)
	oldTok, _ := authority(t, promoted, time.Now).Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})
	retired := step(t, RetireKey, promoted, oldKid)
	keys, _ := ParseKeys(retired)
	if strings.Contains(string(keys.PublicJSON()), oldKid) {
		t.Errorf("a retired key is published: %s", keys.PublicJSON())
	}
	before := authority(t, file, time.Now)
	tok, _ := before.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})
	if _, err := authority(t, retired, time.Now).Verify(tok); err == nil {
		t.Error("a token of a retired key verified")
	}
	if _, err := authority(t, retired, time.Now).Verify(oldTok); err != nil {
		t.Errorf("a token of the signing key refused: %v", err)
	}
	want := []KeyInfo{{Kid: newKid, Alg: "EdDSA", Status: StatusSigning}, {Kid: oldKid, Alg: "EdDSA", Status: StatusRetired}}
	if got := keys.List(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("list %+v, want %+v", got, want)
	}
	removed := step(t, RemoveKey, retired, oldKid)
	if keys, _ := ParseKeys(removed); len(keys.List()) != 1 {
		t.Errorf("after removing, %d keys", len(keys.List()))
	}
}

func TestKeyFile_StepsRefuseWhatWouldLogUsersOut(t *testing.T) {
	t.Parallel()
	file := generate(t, "EdDSA")
	oldKid := kidOf(t, file)
	published, newKid, _ := AddKey(file, "EdDSA")
	promoted := step(t, PromoteKey, published, newKid)
	retired := step(t, RetireKey, promoted, oldKid)
	for name, err := range map[string]error{
		"retire the signing key":    func() error { _, err := RetireKey(published, oldKid); return err }(),
		"remove the signing key":    func() error { _, err := RemoveKey(published, oldKid); return err }(),
		"remove a verify-only key":  func() error { _, err := RemoveKey(published, newKid); return err }(),
		"remove a key still active": func() error { _, err := RemoveKey(promoted, oldKid); return err }(),
		"promote a retired key":     func() error { _, err := PromoteKey(retired, oldKid); return err }(),
		"promote the signing key":   func() error { _, err := PromoteKey(promoted, newKid); return err }(),
		"promote an unknown kid":    func() error { _, err := PromoteKey(promoted, "nope"); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKeyFile_StatusIsCheckedAtLoad(t *testing.T) {
	t.Parallel()
	var set map[string][]map[string]any
	_ = json.Unmarshal(generate(t, "EdDSA"), &set)
	for _, status := range []string{StatusVerifyOnly, StatusRetired, "signing", "next"} {
		set["keys"][0][StatusMember] = status
		file, _ := json.Marshal(set)
		if _, err := ParseKeys(file); err == nil {
			t.Errorf("a set whose only key is %q loaded", status)
		}
	}
}

func TestKeyFile_StepsKeepWhatElseTheFileHolds(t *testing.T) {
	t.Parallel()
	var set map[string]any
	_ = json.Unmarshal(generate(t, "EdDSA"), &set)
	set["comment"] = "rotated by ops"
	file, _ := json.Marshal(set)
	next, _, err := AddKey(file, "EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(next), `"comment": "rotated by ops"`) {
		t.Errorf("the file lost a member:\n%s", next)
	}
}
