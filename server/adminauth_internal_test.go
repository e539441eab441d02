package server

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/authd/authd"
)

// TestAdminRoutes_RefusesAnAdminOperationLeftHalfMarked: the spec as it is
// marks every admin operation; an operation tagged admin or under /admin/
// that lost its scope mark and the credential scheme (so that it would be
// an ordinary user's route), or that names a scope no credential can hold,
// stops the start.
func TestAdminRoutes_RefusesAnAdminOperationLeftHalfMarked(t *testing.T) {
	t.Parallel()
	spec, err := authd.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	routes, err := adminRoutes(spec)
	if err != nil || routes["DELETE /admin/users/:id"] != "users:erase" {
		t.Fatalf("the spec's admin routes %v, %v", routes, err)
	}
	unmark := func(op *openapi3.Operation) {
		delete(op.Extensions, adminScopeExtension)
		op.Security = &openapi3.SecurityRequirements{{bearerScheme: {}}}
	}
	for name, spoil := range map[string]func(*openapi3.T){
		"unmarked under /admin/": func(s *openapi3.T) {
			op := s.Paths.Find("/admin/users/{id}").Delete
			op.Tags = nil
			unmark(op)
		},
		"unmarked, tagged admin": func(s *openapi3.T) {
			op := s.Paths.Find("/users/me/export").Get
			op.Tags = append(op.Tags, "admin")
		},
		"unknown scope": func(s *openapi3.T) {
			s.Paths.Find("/admin/users").Get.Extensions[adminScopeExtension] = "users:everything"
		},
	} {
		spec, err := authd.LoadSpec()
		if err != nil {
			t.Fatal(err)
		}
		spoil(spec)
		if _, err := adminRoutes(spec); err == nil {
			t.Errorf("%s: the start was not stopped", name)
		}
	}
}
