package server

import (
	"context"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// exportDisposition makes a browser save the export rather than show it.
const exportDisposition = `attachment; filename="authd-export.json"`

// ExportMe implements api.StrictServerInterface: everything authd holds
// about the caller (the right of access), each row through the same
// mapping that shows it elsewhere, so no secret column can slip in. The
// reads share one connection (a transaction) rather than taking five.
func (s *Server) ExportMe(ctx context.Context, _ api.ExportMeRequestObject) (api.ExportMeResponseObject, error) {
	u := caller(ctx).user
	out := api.UserExport{ExportedAt: s.now().UTC(), User: userJSON(u), Roles: nonNil(u.Roles)}
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		sessions, err := q.ListAllSessions(ctx, u.ID)
		if err != nil {
			return err
		}
		events, err := q.ListAllEvents(ctx, u.ID)
		if err != nil {
			return err
		}
		factors, err := q.ListFactors(ctx, db.ListFactorsParams{UserID: u.ID, Now: s.now()})
		if err != nil {
			return err
		}
		passkeys, err := q.ListPasskeys(ctx, u.ID)
		if err != nil {
			return err
		}
		identities, err := q.ListIdentities(ctx, u.ID)
		if err != nil {
			return err
		}
		out.Sessions = mapAll(sessions, exportedSessionJSON)
		out.Events = mapAll(events, func(r db.SecurityEvent) api.Event { return eventJSON(r, false) })
		out.Factors = mapAll(factors, factorJSON)
		out.Passkeys = mapAll(passkeys, passkeyJSON)
		out.Identities = mapAll(identities, identityJSON)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return api.ExportMe200JSONResponse{Body: out, Headers: api.ExportMe200ResponseHeaders{ContentDisposition: ptr(exportDisposition)}}, nil
}

// exportedSessionJSON is a session, ended or not, as the export shows it.
func exportedSessionJSON(r db.Session) api.ExportedSession {
	return api.ExportedSession{
		Id: r.ID, CreatedAt: r.CreatedAt.UTC(), LastUsedAt: r.LastUsedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		RevokedAt: utcPtr(r.RevokedAt), UserAgent: cleanHeader(r.UserAgent, 512), Ip: r.Ip, Amr: nonNil(r.Amr),
	}
}

// mapAll maps every row with f; never nil, so JSON shows [] for none.
func mapAll[R, J any](rows []R, f func(R) J) []J {
	out := make([]J, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out
}

// nonNil is s, or an empty slice for nil, so JSON shows [] for none.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
