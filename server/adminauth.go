package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
)

// The admin API's second way in, and the mark that names each admin
// operation's scope. A person with the admin role may use every scope.
const (
	credentialScheme    = "serviceCredential"
	adminScopeExtension = "x-authd-admin-scope"
	roleAdmin           = "admin"
)

// credentialScopes are the scopes a service credential can hold.
var credentialScopes = []string{"users:read", "users:write", "users:erase"}

// adminRoutes maps each admin operation's route to its scope. An admin
// operation is exactly one that accepts bearerAuth or serviceCredential and
// carries a known scope; anything else that names serviceCredential or the
// mark, or is tagged admin or under /admin/, stops the start, so no
// operation is left half protected (nor open to every user).
func adminRoutes(spec *openapi3.T) (map[string]string, error) {
	admin := map[string]string{}
	for route, r := range specRoutes(spec) {
		op := r.Operation
		scope, marked := op.Extensions[adminScopeExtension]
		usesCredential := op.Security != nil && slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool {
			_, ok := r[credentialScheme]
			return ok
		})
		looksAdmin := slices.Contains(op.Tags, "admin") || strings.Contains(route, " /admin/")
		if !marked && !usesCredential && !looksAdmin {
			continue
		}
		name, _ := scope.(string)
		if !marked || !slices.Contains(credentialScopes, name) || !adminSecurity(op.Security) {
			return nil, fmt.Errorf("%s: an admin operation needs security [%s] or [%s] and %s one of %v", route, bearerScheme, credentialScheme, adminScopeExtension, credentialScopes)
		}
		admin[route] = name
	}
	return admin, nil
}

// adminSecurity is the one security an admin operation may have: a bearer
// token or a service credential, each alone.
func adminSecurity(security *openapi3.SecurityRequirements) bool {
	if security == nil || len(*security) != 2 {
		return false
	}
	_, bearer := (*security)[0][bearerScheme]
	_, credential := (*security)[1][credentialScheme]
	return bearer && credential && len((*security)[0]) == 1 && len((*security)[1]) == 1
}

// admitAdmin lets in a service credential holding scope, or the access
// token of an admin (aal 2 unless AUTHD_ADMIN_REQUIRE_MFA=false), and
// records who acts, for the events the operation writes.
func (s *Server) admitAdmin(r *http.Request, scope string) error {
	ctx := r.Context()
	if raw, ok := bearerToken(r.Header.Get(echo.HeaderAuthorization)); ok && strings.HasPrefix(raw, credentialPrefix) {
		cred, err := s.admitCredential(ctx, raw)
		if err != nil {
			return err
		}
		if !slices.Contains(cred.Scopes, scope) {
			return &problemError{typ: typeInsufficientScope, detail: fmt.Sprintf("This operation needs the scope %s.", scope)}
		}
		setActor(ctx, actorService+cred.ID.String())
		return nil
	}
	if err := s.admit(r); err != nil {
		return err
	}
	me := caller(ctx)
	if !slices.Contains(me.user.Roles, roleAdmin) {
		return &problemError{typ: typeForbidden, detail: "This operation is for admins."}
	}
	if s.admin.RequireMFA && me.claims.AAL() < 2 {
		return &problemError{typ: typeMfaRequired, detail: "Administration needs a login with a second factor."}
	}
	setActor(ctx, actorAdmin+me.user.ID.String())
	return nil
}

// admitCredential finds the credential of a token and checks its secret,
// that it is not revoked and not expired. Every refusal is the same 401.
func (s *Server) admitCredential(ctx context.Context, raw string) (db.ServiceCredential, error) {
	id, secret, ok := parseCredential(raw)
	if !ok {
		return db.ServiceCredential{}, unauthorized(true, errors.New("malformed service credential"))
	}
	cred, err := s.db.Queries().GetServiceCredential(ctx, id)
	if errors.Is(err, database.ErrNotFound) {
		return db.ServiceCredential{}, unauthorized(true, errors.New("unknown service credential"))
	}
	if err != nil {
		return db.ServiceCredential{}, err
	}
	now := s.now()
	switch {
	case !credentialSecretMatches(cred, secret):
		return db.ServiceCredential{}, unauthorized(true, errors.New("wrong service credential secret"))
	case cred.RevokedAt != nil:
		return db.ServiceCredential{}, unauthorized(true, errors.New("service credential revoked"))
	case cred.ExpiresAt != nil && !now.Before(*cred.ExpiresAt):
		return db.ServiceCredential{}, unauthorized(true, errors.New("service credential expired"))
	}
	// The time of last use is for an operator's list: to the minute is
	// enough, and a busy automation then costs no write per request.
	if cred.LastUsedAt == nil || now.Sub(*cred.LastUsedAt) >= credentialUseResolution {
		if err := s.db.Queries().TouchServiceCredential(ctx, db.TouchServiceCredentialParams{ID: cred.ID, Now: now}); err != nil {
			s.log.WarnContext(ctx, "could not record a service credential's use", "error", err.Error())
		}
	}
	return cred, nil
}

// credentialUseResolution is how precisely a credential's last use is kept.
const credentialUseResolution = time.Minute

// errAdminTier refuses a service credential what would lift it, or whoever
// holds it, to an admin: a users:write credential that could grant the
// admin role (to an address its holder reads) or take over an admin's
// account would have every scope.
var errAdminTier = &problemError{typ: typeForbidden, detail: "The admin role, and the accounts that hold it, are changed by an admin, not by a service credential."}

// guardTarget reads the user an admin operation acts on, as guardAdminTier
// allows: database.ErrNotFound when there is none.
func guardTarget(ctx context.Context, q *db.Queries, id uuid.UUID) (db.User, error) {
	u, err := q.GetUserByID(ctx, id)
	if err != nil {
		return u, err
	}
	return u, guardAdminTier(ctx, u.Roles)
}

// guardAdminTier is errAdminTier when a service credential acts and the
// account, as it is or with the roles asked for, holds the admin role.
func guardAdminTier(ctx context.Context, roles ...[]string) error {
	if !strings.HasPrefix(infoFrom(ctx).actor, actorService) {
		return nil
	}
	for _, set := range roles {
		if slices.Contains(set, roleAdmin) {
			return errAdminTier
		}
	}
	return nil
}
