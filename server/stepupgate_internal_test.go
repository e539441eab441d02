package server

import (
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/authd/authd"
)

// TestStepUpRoutes_TheSpecMarksTheSensitiveOperations checks the spec's
// x-authd-step-up marks: the sensitive operations carry it, each one
// declares the step-up-required 401, and nothing else is marked.
func TestStepUpRoutes_TheSpecMarksTheSensitiveOperations(t *testing.T) {
	t.Parallel()
	spec, err := authd.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	protected, err := bearerRoutes(spec)
	if err != nil {
		t.Fatal(err)
	}
	sensitive, err := stepUpRoutes(spec, protected)
	if err != nil {
		t.Fatal(err)
	}
	var marked []string
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Extensions[stepUpExtension] == nil {
				continue
			}
			marked = append(marked, op.OperationID)
			if ref := op.Responses.Value("401"); ref == nil || ref.Ref != "#/components/responses/StepUpRequired" {
				t.Errorf("%s %s needs step-up but its 401 is not StepUpRequired", method, path)
			}
		}
	}
	slices.Sort(marked)
	want := []string{"deleteFactor", "deleteIdentity", "deleteMe", "deletePasskey", "exportMe", "passkeyRegistrationOptions", "regenerateRecoveryCodes",
		"startIdentityLink", "startTotpEnrollment", "updateMe"}
	if !slices.Equal(marked, want) || len(sensitive) != len(want) {
		t.Errorf("marked %v (%d routes), want %v", marked, len(sensitive), want)
	}
}

// TestStepUpRoutes_RefusesAMarkItCannotEnforce: a mark on a public
// operation, or one that is not true, stops the start.
func TestStepUpRoutes_RefusesAMarkItCannotEnforce(t *testing.T) {
	t.Parallel()
	for name, mark := range map[string]any{"public operation": true, "not true": "yes"} {
		spec, err := authd.LoadSpec()
		if err != nil {
			t.Fatal(err)
		}
		protected, err := bearerRoutes(spec)
		if err != nil {
			t.Fatal(err)
		}
		var op *openapi3.Operation
		if name == "public operation" {
			op = spec.Paths.Find("/auth/login").Post
		} else {
			op = spec.Paths.Find("/users/me").Put
		}
		if op.Extensions == nil {
			op.Extensions = map[string]any{}
		}
		op.Extensions[stepUpExtension] = mark
		if _, err := stepUpRoutes(spec, protected); err == nil {
			t.Errorf("%s: a step-up mark was accepted", name)
		}
	}
}
