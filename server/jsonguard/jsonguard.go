// Package jsonguard refuses JSON that a lenient decoder would accept with a
// surprise: duplicated keys (decoders silently keep one), excessive nesting
// and trailing data.
package jsonguard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxDepth bounds nesting; authd's bodies are flat, and an unbounded
// depth would let a small body cost a deep recursion.
const MaxDepth = 32

// Check reports the first syntax error, duplicated object key or
// excessive nesting in data.
func Check(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := walkJSON(dec, nil); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// walkJSON reads one value; path holds the keys above it (built into a
// string only for an error message).
func walkJSON(dec *json.Decoder, path []string) error {
	tok, err := dec.Token()
	if err != nil {
		return syntaxMessage(err)
	}
	delim, ok := tok.(json.Delim)
	if !ok || delim == '}' || delim == ']' {
		return nil
	}
	if len(path) >= MaxDepth {
		return fmt.Errorf("nested deeper than %d levels", MaxDepth)
	}
	seen := map[string]bool{}
	for dec.More() {
		elem := "[]"
		if delim == '{' {
			keyTok, err := dec.Token()
			if err != nil {
				return syntaxMessage(err)
			}
			key, _ := keyTok.(string)
			if seen[key] {
				return fmt.Errorf("duplicate field %q", strings.ReplaceAll(strings.Join(append(path, key), "."), ".[]", "[]"))
			}
			seen[key] = true
			elem = key
		}
		if err := walkJSON(dec, append(path, elem)); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing '}' or ']'
	return syntaxMessage(err)
}

// syntaxMessage keeps decoder errors short and free of the body's content.
func syntaxMessage(err error) error {
	var se *json.SyntaxError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return fmt.Errorf("syntax error at byte %d", se.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("unexpected end of input")
	default:
		return errors.New("malformed JSON")
	}
}
