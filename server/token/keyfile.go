package token

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The steps of a key rotation (README "Keys and rotation"), each an edit of
// the private JWK set that returns the next one. The file is edited member
// by member as JSON, so whatever else an operator wrote in it stays, and
// every result is loaded with ParseKeys before it is returned: a step never
// writes a file authd would refuse.

// AddKey appends a new verify-only key for alg (step 1): published and
// accepted, but it signs only once promoted.
func AddKey(file []byte, alg string) (next []byte, kid string, err error) {
	f, err := readKeyFile(file)
	if err != nil {
		return nil, "", err
	}
	fresh, err := GenerateSet(alg)
	if err != nil {
		return nil, "", err
	}
	g, err := readKeyFile(fresh)
	if err != nil {
		return nil, "", err
	}
	key := g.keys[0]
	key[StatusMember], _ = json.Marshal(StatusVerifyOnly)
	f.keys = append(f.keys, key)
	kid = g.kid(0)
	next, err = f.encode()
	return next, kid, err
}

// PromoteKey makes kid the signing key (step 2); the key that signed stays
// active, so the tokens it signed still verify.
func PromoteKey(file []byte, kid string) ([]byte, error) {
	f, i, err := readKeyFileFor(file, kid)
	if err != nil {
		return nil, err
	}
	switch f.status(i) {
	case StatusRetired:
		return nil, fmt.Errorf("key %q is retired: add a new key instead (authd keys add)", kid)
	case StatusActive:
		if f.signer() == i {
			return nil, fmt.Errorf("key %q already signs", kid)
		}
	}
	key := f.keys[i]
	delete(key, StatusMember)
	f.keys = append([]map[string]json.RawMessage{key}, append(f.keys[:i:i], f.keys[i+1:]...)...)
	return f.encode()
}

// RetireKey stops kid from being published and from verifying tokens
// (step 3); it still opens mail sealed with it until it is removed.
func RetireKey(file []byte, kid string) ([]byte, error) {
	f, i, err := readKeyFileFor(file, kid)
	if err != nil {
		return nil, err
	}
	if f.signer() == i {
		return nil, fmt.Errorf("key %q signs: promote another key first (authd keys promote)", kid)
	}
	f.keys[i][StatusMember], _ = json.Marshal(StatusRetired)
	return f.encode()
}

// RemoveKey deletes a retired key (step 4). Whether mail sealed with it is
// still waiting is for the caller to check (mail.CountSealedWith).
func RemoveKey(file []byte, kid string) ([]byte, error) {
	f, i, err := readKeyFileFor(file, kid)
	if err != nil {
		return nil, err
	}
	if s := f.status(i); s != StatusRetired {
		if f.signer() == i {
			s = StatusSigning
		}
		return nil, fmt.Errorf("key %q is %s: retire it first (authd keys retire)", kid, s)
	}
	f.keys = append(f.keys[:i], f.keys[i+1:]...)
	return f.encode()
}

type keyFile struct {
	top  map[string]json.RawMessage // members besides "keys" are kept as they are
	keys []map[string]json.RawMessage
}

func readKeyFile(data []byte) (*keyFile, error) {
	if _, err := ParseKeys(data); err != nil {
		return nil, err
	}
	f := &keyFile{}
	if err := json.Unmarshal(data, &f.top); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(f.top["keys"], &f.keys); err != nil {
		return nil, err
	}
	return f, nil
}

func readKeyFileFor(data []byte, kid string) (*keyFile, int, error) {
	f, err := readKeyFile(data)
	if err != nil {
		return nil, 0, err
	}
	for i := range f.keys {
		if f.kid(i) == kid {
			return f, i, nil
		}
	}
	return nil, 0, fmt.Errorf("no key %q in the file", kid)
}

func (f *keyFile) kid(i int) string {
	var kid string
	_ = json.Unmarshal(f.keys[i]["kid"], &kid)
	return kid
}

// status is StatusActive for a key without StatusMember.
func (f *keyFile) status(i int) string {
	raw, ok := f.keys[i][StatusMember]
	if !ok {
		return StatusActive
	}
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

// signer is the index of the first active key, as ParseKeys picks it.
func (f *keyFile) signer() int {
	for i := range f.keys {
		if f.status(i) == StatusActive {
			return i
		}
	}
	return -1
}

func (f *keyFile) encode() ([]byte, error) {
	var err error
	if f.top["keys"], err = json.Marshal(f.keys); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(f.top, "", "  ")
	if err != nil {
		return nil, err
	}
	if _, err := ParseKeys(out); err != nil {
		return nil, errors.Join(errors.New("the edited key file does not load"), err)
	}
	return append(out, '\n'), nil
}
