package server

import (
	"context"
	"errors"
	"strconv"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// securityEvent is a kind of security event, as stored (security_events.kind)
// and as listed (api.EventKind).
type securityEvent string

// The security events of the audit trail.
const (
	evRegistered     securityEvent = "registered"
	evEmailVerified  securityEvent = "email_verified"
	evLoginSucceeded securityEvent = "login_succeeded"
	evLoginFailed    securityEvent = "login_failed"
	evLogout         securityEvent = "logout"
	evSessionRevoked securityEvent = "session_revoked"
	evRefreshReuse   securityEvent = "refresh_reuse_detected"
	evPasswordChange securityEvent = "password_changed"
	evPasswordReset  securityEvent = "password_reset"
	evEmailChanged   securityEvent = "email_changed"
	evDeactivated    securityEvent = "account_deactivated"
	evFactorAdded    securityEvent = "factor_added"
	evFactorRemoved  securityEvent = "factor_removed"
	evCodesRenewed   securityEvent = "recovery_codes_regenerated"
	evRecoveryUsed   securityEvent = "recovery_code_used"
	evMFAFailed      securityEvent = "mfa_failed"
	evStepUp         securityEvent = "step_up"

	evPasskeyAdded          securityEvent = "passkey_added"           // a passkey registered
	evPasskeyRemoved        securityEvent = "passkey_removed"         // a passkey removed by its user
	evPasskeyUsed           securityEvent = "passkey_used"            // an assertion accepted (login, second step, step-up)
	evPasskeyCloneSuspected securityEvent = "passkey_clone_suspected" //nolint:gosec // G101: an event name; a sign count that did not rise: refused

	evIdentityLinked       securityEvent = "identity_linked"        // a provider identity now logs in to the account
	evIdentityUnlinked     securityEvent = "identity_unlinked"      // removed by its user, or by a reset (the provider never verified the address)
	evFederatedLogin       securityEvent = "federated_login"        // a session made from a provider's login
	evFederatedLoginFailed securityEvent = "federated_login_failed" // a provider's login refused for a known account
	// Admin actions, on the events of the user they concern; the actor
	// (admin or service credential) is recorded with each.
	evAdminUserCreated    securityEvent = "admin_user_created"     // an admin created the account and mailed an invitation
	evAdminUserUpdated    securityEvent = "admin_user_updated"     // an admin set active or the verified address
	evAdminSessionsRevoke securityEvent = "admin_sessions_revoked" // an admin ended one or every session
	evAdminFactorRemoved  securityEvent = "admin_factor_removed"   // an admin removed a TOTP factor or a passkey
	evRoleGranted         securityEvent = "role_granted"           // one event per role added
	evRoleRevoked         securityEvent = "role_revoked"           // one event per role removed
)

// recordSecurityEvent adds event to the user's audit trail with the
// request's IP, user agent and id, in q's transaction: it exists exactly when
// the change it records does.
func (s *Server) recordSecurityEvent(ctx context.Context, q *db.Queries, userID uuid.UUID, event securityEvent, sessionID *uuid.UUID) error {
	info := infoFrom(ctx)
	return q.RecordEvent(ctx, db.RecordEventParams{
		UserID: userID, Kind: string(event), SessionID: sessionID, Ip: info.ip, UserAgent: info.userAgent, RequestID: info.id, Actor: info.actor, Now: s.now(),
	})
}

// ListEvents implements api.StrictServerInterface: a page of the caller's
// events, newest first, with the cursor of the next page.
func (s *Server) ListEvents(ctx context.Context, req api.ListEventsRequestObject) (api.ListEventsResponseObject, error) {
	page, err := s.eventPage(ctx, caller(ctx).user.ID, req.Params.Cursor, req.Params.Limit, false)
	if errors.Is(err, errForeignCursor) {
		return api.ListEvents400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, foreignCursor)}, nil
	}
	if err != nil {
		return nil, err
	}
	return api.ListEvents200JSONResponse(page), nil
}

// errForeignCursor means a cursor this service did not issue: a 400 with
// foreignCursor as its detail.
var errForeignCursor = errors.New("cursor not issued by this service")

const foreignCursor = "The cursor is not one this service issued."

// eventPage is a page of userID's events, newest first, after cursor (the
// previous page's next_cursor), with the cursor of the next page. toAdmin
// shows the actors in full (see eventJSON).
func (s *Server) eventPage(ctx context.Context, userID uuid.UUID, cursor *string, limit *int, toAdmin bool) (api.EventPage, error) {
	n := 20
	if limit != nil {
		n = *limit
	}
	var before *int64
	if cursor != nil {
		id, err := strconv.ParseInt(*cursor, 10, 64)
		if err != nil { // the spec's pattern admits 19 digits that overflow
			return api.EventPage{}, errForeignCursor
		}
		before = &id
	}
	// One more than asked tells whether another page follows.
	rows, err := s.db.Queries().ListEvents(ctx, db.ListEventsParams{UserID: userID, Before: before, MaxRows: int32(n + 1)})
	if err != nil {
		return api.EventPage{}, err
	}
	page := api.EventPage{Events: make([]api.Event, 0, min(len(rows), n))}
	for i, r := range rows {
		if i == n {
			page.NextCursor = ptr(strconv.FormatInt(rows[i-1].ID, 10))
			break
		}
		page.Events = append(page.Events, eventJSON(r, toAdmin))
	}
	return page, nil
}
