package server

import (
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// userJSON maps a users row to the API's User.
func userJSON(u db.User) api.User {
	return api.User{
		Id:              u.ID,
		Email:           u.Email,
		IsActive:        u.IsActive,
		EmailVerifiedAt: utcPtr(u.EmailVerifiedAt),
		CreatedAt:       u.CreatedAt.UTC(),
		UpdatedAt:       u.UpdatedAt.UTC(),
	}
}

// tokenPairJSON wraps issued tokens in the API's TokenPair response.
func tokenPairJSON(access string, accessTTL time.Duration, refresh string, sessionLeft time.Duration) api.TokenPairJSONResponse {
	return api.TokenPairJSONResponse{
		Body: api.TokenPair{
			AccessToken:      access,
			TokenType:        api.Bearer,
			ExpiresIn:        int(accessTTL.Seconds()),
			RefreshToken:     refresh,
			RefreshExpiresIn: max(0, int(sessionLeft.Seconds())),
		},
		Headers: api.TokenPairResponseHeaders{CacheControl: ptr("no-store")},
	}
}

// sessionJSON maps a session row to the API's Session.
func sessionJSON(r db.ListLiveSessionsRow, current bool) api.Session {
	return api.Session{
		Id:         r.ID,
		CreatedAt:  r.CreatedAt.UTC(),
		LastUsedAt: r.LastUsedAt.UTC(),
		UserAgent:  cleanHeader(r.UserAgent, 512), // rows stored before cleaning dropped format characters
		Ip:         r.Ip,
		Current:    current,
	}
}

// eventJSON maps a security event row to the API's Event. Who acted is
// shown in full to admins ("admin:<id>", "service:<id>"); the user sees
// only which kind of actor it was ("admin" or "service").
func eventJSON(r db.SecurityEvent, toAdmin bool) api.Event {
	e := api.Event{
		Kind:      r.Kind,
		CreatedAt: r.CreatedAt.UTC(),
		SessionId: r.SessionID,
		Ip:        r.Ip,
		UserAgent: cleanHeader(r.UserAgent, 512), // see sessionJSON
		RequestId: r.RequestID,
	}
	if r.Actor != "" {
		actor := r.Actor
		if !toAdmin {
			// The user learns that an admin or a service acted, not who,
			// from where or with what: those are the admin's personal data.
			actor, _, _ = strings.Cut(actor, ":")
			e.Ip, e.UserAgent = "", ""
		}
		e.Actor = &actor
	}
	return e
}

// adminUserJSON maps a users row to the API's AdminUser: the account as an
// admin sees it (never its password hash, only whether it has one).
func adminUserJSON(u db.User) api.AdminUser {
	roles := u.Roles
	if roles == nil {
		roles = []string{}
	}
	return api.AdminUser{
		Id:              u.ID,
		Email:           u.Email,
		IsActive:        u.IsActive,
		EmailVerifiedAt: utcPtr(u.EmailVerifiedAt),
		Roles:           roles,
		HasPassword:     u.PasswordHash != "",
		CreatedAt:       u.CreatedAt.UTC(),
		UpdatedAt:       u.UpdatedAt.UTC(),
	}
}

// readinessProblemJSON maps the not-ready problem and the failing checks to
// the API's ReadinessProblem; checks is nil unless details are asked for.
func readinessProblemJSON(p api.Problem, failing []string, checks *api.Checks) api.ReadinessProblem {
	return api.ReadinessProblem{
		Type: p.Type, Title: p.Title, Status: p.Status, Detail: p.Detail,
		RequestId: p.RequestId, Instance: ptr("/readiness"), Failing: failing, Checks: checks,
	}
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ptr(t.UTC())
}

func ptr[T any](v T) *T { return &v }

// factorJSON is a factor as the API shows it: never its secret.
func factorJSON(f db.MfaFactor) api.Factor {
	status := api.Active
	if f.VerifiedAt == nil {
		status = api.Unverified
	}
	return api.Factor{
		Id: f.ID, Type: f.Kind, FriendlyName: f.FriendlyName, Status: status,
		CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt,
	}
}

// passkeyJSON is a passkey as the API shows it: never its key.
func passkeyJSON(pk db.Passkey) api.Passkey {
	out := api.Passkey{
		Id: pk.ID, FriendlyName: pk.FriendlyName, CreatedAt: pk.CreatedAt, LastUsedAt: pk.LastUsedAt,
		BackupEligible: pk.BackupEligible, BackedUp: pk.BackupState, Transports: pk.Transports,
	}
	if id, err := uuid.FromBytes(pk.Aaguid); err == nil {
		out.Aaguid = &id
	}
	return out
}

// identityJSON is a provider identity as the API shows it: never its
// subject. The address is what a provider asserted, text from outside,
// cleaned for display as a user agent is.
func identityJSON(i db.Identity) api.Identity {
	return api.Identity{
		Id: i.ID, Provider: i.Provider, Email: cleanHeader(i.Email, 320), EmailVerified: i.EmailVerified,
		CreatedAt: i.CreatedAt.UTC(), LastLoginAt: utcPtr(i.LastLoginAt),
	}
}
