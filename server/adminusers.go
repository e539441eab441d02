package server

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
)

// ListAdminUsers implements api.StrictServerInterface: a page of users in
// (created_at, id) order after the cursor. The cursor is the last row's
// key, so a user created meanwhile lands after it or before it and never
// shifts a page: every user that existed when the listing began is listed
// once.
func (s *Server) ListAdminUsers(ctx context.Context, req api.ListAdminUsersRequestObject) (api.ListAdminUsersResponseObject, error) {
	p := req.Params
	limit := 50
	if p.Limit != nil {
		limit = *p.Limit
	}
	args := db.ListAdminUsersParams{
		EmailPrefix: p.EmailPrefix, Active: nullBool(p.Active), Verified: nullBool(p.Verified), Role: p.Role,
		CreatedAfter: p.CreatedAfter, CreatedBefore: p.CreatedBefore,
		MaxRows: int32(limit + 1), // one more tells whether a page follows
	}
	if p.Cursor != nil {
		at, id, err := parseUserCursor(*p.Cursor)
		if err != nil {
			return api.ListAdminUsers400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, foreignCursor)}, nil
		}
		args.AfterCreatedAt, args.AfterID = &at, &id
	}
	rows, err := s.db.Queries().ListAdminUsers(ctx, args)
	if err != nil {
		return nil, err
	}
	page := api.AdminUserPage{Users: make([]api.AdminUser, 0, min(len(rows), limit))}
	for i, u := range rows {
		if i == limit {
			page.NextCursor = ptr(userCursor(rows[i-1]))
			break
		}
		page.Users = append(page.Users, adminUserJSON(u))
	}
	return api.ListAdminUsers200JSONResponse(page), nil
}

// userCursor is the opaque cursor after u: base64url of its created_at in
// microseconds (PostgreSQL's precision) and its id.
func userCursor(u db.User) string {
	var b [24]byte
	binary.BigEndian.PutUint64(b[:8], uint64(u.CreatedAt.UnixMicro())) //nolint:gosec // G115: a time after 1970, read back as it was written
	copy(b[8:], u.ID[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// parseUserCursor reads a cursor userCursor made; anything else is an error.
func parseUserCursor(cursor string) (time.Time, uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || len(b) != 24 {
		return time.Time{}, uuid.UUID{}, errForeignCursor
	}
	id, _ := uuid.FromBytes(b[8:])                                    // 16 bytes always make one
	at := time.UnixMicro(int64(binary.BigEndian.Uint64(b[:8]))).UTC() //nolint:gosec // G115: checked below
	if at.Year() < 1 || at.Year() > 9999 {
		// Not a time userCursor wrote (some would not fit PostgreSQL either).
		return time.Time{}, uuid.UUID{}, errForeignCursor
	}
	return at, id, nil
}

// nullBool is an optional filter as the query takes it.
func nullBool(b *bool) pgtype.Bool {
	if b == nil {
		return pgtype.Bool{}
	}
	return pgtype.Bool{Bool: *b, Valid: true}
}

// GetAdminUser implements api.StrictServerInterface: the user with the
// metadata of their live sessions, factors, passkeys and identities.
func (s *Server) GetAdminUser(ctx context.Context, req api.GetAdminUserRequestObject) (api.GetAdminUserResponseObject, error) {
	q := s.db.Queries()
	u, err := q.GetUserByID(ctx, req.Id)
	if errors.Is(err, database.ErrNotFound) {
		return api.GetAdminUser404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such user.")}, nil
	}
	if err != nil {
		return nil, err
	}
	detail, err := s.adminUserDetail(ctx, q, u)
	if err != nil {
		return nil, err
	}
	return api.GetAdminUser200JSONResponse(detail), nil
}

// adminUserDetail gathers what GET /admin/users/{id} shows of u.
func (s *Server) adminUserDetail(ctx context.Context, q *db.Queries, u db.User) (api.AdminUserDetail, error) {
	sessions, err := q.ListLiveSessions(ctx, db.ListLiveSessionsParams{UserID: u.ID, Now: s.now()})
	if err != nil {
		return api.AdminUserDetail{}, err
	}
	factors, err := q.ListFactors(ctx, db.ListFactorsParams{UserID: u.ID, Now: s.now()})
	if err != nil {
		return api.AdminUserDetail{}, err
	}
	passkeys, err := q.ListPasskeys(ctx, u.ID)
	if err != nil {
		return api.AdminUserDetail{}, err
	}
	identities, err := q.ListIdentities(ctx, u.ID)
	if err != nil {
		return api.AdminUserDetail{}, err
	}
	d := api.AdminUserDetail{
		User:       adminUserJSON(u),
		Sessions:   make([]api.Session, len(sessions)),
		Factors:    make([]api.Factor, len(factors)),
		Passkeys:   make([]api.Passkey, len(passkeys)),
		Identities: make([]api.Identity, len(identities)),
	}
	me := caller(ctx) // nil for a service credential
	for i, r := range sessions {
		d.Sessions[i] = sessionJSON(r, me != nil && r.ID == me.sessionID)
	}
	for i, f := range factors {
		d.Factors[i] = factorJSON(f)
	}
	for i, pk := range passkeys {
		d.Passkeys[i] = passkeyJSON(pk)
	}
	for i, id := range identities {
		d.Identities[i] = identityJSON(id)
	}
	return d, nil
}
