// Package authd holds the contract, openapi.yaml, embedded so that the
// binary serves and validates against exactly the file the code is
// generated from.
package authd

import (
	_ "embed"

	"github.com/getkin/kin-openapi/openapi3"
)

// OpenAPI is openapi.yaml as written.
//
//go:embed openapi.yaml
var OpenAPI []byte

// LoadSpec parses OpenAPI; each call returns a fresh document.
func LoadSpec() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI)
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(loader.Context)
}
