package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
)

// methodPasskey names a passkey as MfaChallenge.methods and the metrics do.
const methodPasskey = "passkey"

// methodUser is RFC 8176's "user": the authenticator verified its user (a
// PIN or biometric), which a passwordless login requires.
const methodUser = "user"

// The outcomes of a passwordless login in authd_logins_total.
const (
	loginPasskeySuccess = "passkey_success"
	loginPasskeyRefused = "passkey_refused"
	loginPasskeyCloned  = "passkey_clone_suspected" //nolint:gosec // G101: a metric label, not a credential
)

// The outcomes of a passkey as a second factor in authd_mfa_verifications_total
// (method passkey), besides success, throttled and challenge_dead.
const (
	mfaPasskeyRefused = "refused"
	mfaPasskeyCloned  = "clone_suspected"
)

// passkeyVerdict is what checking an assertion found.
type passkeyVerdict int

const (
	passkeyRefused  passkeyVerdict = iota // no live ceremony, not the owner's, not a passkey of the user, bad signature, origin, RP id, flags
	passkeyCloned                         // valid, but the signature counter went backwards: refused and recorded
	passkeyAccepted                       // valid, and its counter and last use recorded
)

// outcome names the verdict for the MFA metric.
func (v passkeyVerdict) outcome() string {
	switch v {
	case passkeyAccepted:
		return "success"
	case passkeyCloned:
		return mfaPasskeyCloned
	}
	return mfaPasskeyRefused
}

// factor is the verdict as a second factor's: a refused or cloned passkey
// counts as a wrong code.
func (v passkeyVerdict) factor() factorVerdict {
	if v == passkeyAccepted {
		return factorAccepted
	}
	return factorWrong
}

// parseAssertion parses the assertion of a request body as go-webauthn
// reads it. A credential it cannot read is the caller's mistake: the 422
// of field, never a 500.
func parseAssertion(ctx context.Context, field string, cred api.PasskeyCredential) (*protocol.ParsedCredentialAssertionData, *api.UnprocessableEntityApplicationProblemPlusJSONResponse) {
	raw, err := json.Marshal(cred)
	if err == nil {
		var parsed *protocol.ParsedCredentialAssertionData
		if parsed, err = protocol.ParseCredentialRequestResponseBytes(raw); err == nil {
			return parsed, nil
		}
	}
	p := problem(ctx, typeValidation, "1 field is invalid.")
	p.Errors = &[]api.FieldError{{Field: field, Message: "not a WebAuthn assertion (AuthenticationResponseJSON) this service can read"}}
	bad := api.UnprocessableEntityApplicationProblemPlusJSONResponse(p)
	return nil, &bad
}

// requestOptions is a started assertion ceremony as the API answers it:
// the publicKey options, as JSON, under options.
func requestOptions(a *protocol.CredentialAssertion) (api.PasskeyRequestOptionsJSONResponse, error) {
	raw, err := json.Marshal(a.Response)
	if err != nil {
		return api.PasskeyRequestOptionsJSONResponse{}, err
	}
	var opts map[string]any
	if err := json.Unmarshal(raw, &opts); err != nil {
		return api.PasskeyRequestOptionsJSONResponse{}, err
	}
	return api.PasskeyRequestOptionsJSONResponse{
		Body: api.PasskeyOptions{Options: opts}, Headers: api.PasskeyRequestOptionsResponseHeaders{CacheControl: ptr("no-store")},
	}, nil
}

// passkeyRefusedProblem is the one 401 of a passwordless login that did not
// pass, whatever failed.
func passkeyRefusedProblem(ctx context.Context) api.InvalidCredentialsApplicationProblemPlusJSONResponse {
	return api.InvalidCredentialsApplicationProblemPlusJSONResponse(problem(ctx, typeInvalidCredentials, "The passkey was not accepted."))
}

// passkeyNotAccepted is the 403 invalid-mfa-code of a passkey assertion
// refused as a second factor, whatever failed: a wrong code's type.
func passkeyNotAccepted(ctx context.Context) api.Problem {
	return problem(ctx, typeInvalidMfaCode, "The passkey was not accepted.")
}

// PasskeyLoginOptions implements api.StrictServerInterface: a discoverable
// login's challenge (no allowCredentials, user verification required),
// stored for any instance to finish once.
func (s *Server) PasskeyLoginOptions(ctx context.Context, _ api.PasskeyLoginOptionsRequestObject) (api.PasskeyLoginOptionsResponseObject, error) {
	assertion, sd, err := s.webauthn.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(q *db.Queries) error { return s.saveCeremony(ctx, q, ceremonyLogin, sd, ceremonyOwner{}) })
	if err != nil {
		return nil, err
	}
	res, err := requestOptions(assertion)
	if err != nil {
		return nil, err
	}
	return api.PasskeyLoginOptions200JSONResponse{PasskeyRequestOptionsJSONResponse: res}, nil
}

// passkeyLogin is what PasskeyLogin's transaction found.
type passkeyLogin struct {
	verdict passkeyVerdict
	user    db.User
	session db.Session
	refresh string
}

// errNoPasskeyUser tells go-webauthn that a user handle names no active
// account; it never leaves this file.
var errNoPasskeyUser = errors.New("no active account for this user handle")

// PasskeyLogin implements api.StrictServerInterface: a passwordless login.
// In one transaction the ceremony of the assertion's challenge is spent,
// the account its user handle names is locked with its passkeys, the
// assertion is checked by go-webauthn (challenge, origin, RP id, user
// presence and verification, signature) and its counter against the
// stored one; then the passkey's use is recorded and the session starts
// with amr [hwk|swk, user]. Every refusal is the same 401 and commits what
// it spent (the ceremony; the passkey_clone_suspected event of a counter
// that went backwards).
func (s *Server) PasskeyLogin(ctx context.Context, req api.PasskeyLoginRequestObject) (api.PasskeyLoginResponseObject, error) {
	parsed, bad := parseAssertion(ctx, "credential", req.Body.Credential)
	if bad != nil {
		return api.PasskeyLogin422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: *bad}, nil
	}
	var out passkeyLogin
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		out = passkeyLogin{}
		_, sd, err := s.takeCeremony(ctx, q, ceremonyLogin, parsed.Response.CollectedClientData.Challenge)
		if errors.Is(err, errCeremonyVoid) {
			logRefusedAssertion(ctx, s, err)
			return nil
		}
		if err != nil {
			return err
		}
		var owner passkeyUser
		var lookupErr error
		handler := func(_, userHandle []byte) (webauthn.User, error) {
			var found bool
			owner, found, lookupErr = s.passkeyOwner(ctx, q, userHandle)
			if lookupErr != nil {
				return nil, lookupErr
			}
			if !found {
				return nil, errNoPasskeyUser
			}
			return owner, nil
		}
		_, cred, err := s.webauthn.ValidatePasskeyLogin(handler, sd, parsed)
		if lookupErr != nil {
			return lookupErr
		}
		if err != nil {
			logRefusedAssertion(ctx, s, err)
			return nil // refused; the ceremony stays spent
		}
		out.user = owner.user
		var pk db.Passkey
		if out.verdict, pk, err = s.spendPasskey(ctx, q, owner, cred, nil); err != nil || out.verdict != passkeyAccepted {
			return err
		}
		out.session, out.refresh, err = s.createSession(ctx, q, owner.user, "", []string{passkeyMethod(pk.BackupEligible), methodUser})
		return err
	})
	refused := api.PasskeyLogin401ApplicationProblemPlusJSONResponse{InvalidCredentialsApplicationProblemPlusJSONResponse: passkeyRefusedProblem(ctx)}
	if errors.Is(err, errCredentialsChanged) {
		// The account was deactivated while this request waited.
		s.metrics.Logins.WithLabelValues(loginPasskeyRefused).Inc()
		return refused, nil
	}
	if err != nil {
		return nil, err
	}
	switch out.verdict {
	case passkeyCloned:
		s.metrics.Logins.WithLabelValues(loginPasskeyCloned).Inc()
		return refused, nil
	case passkeyRefused:
		s.metrics.Logins.WithLabelValues(loginPasskeyRefused).Inc()
		return refused, nil
	}
	pair, err := s.sessionPair(out.session, out.user.Roles, out.refresh)
	if err != nil {
		return nil, err
	}
	s.metrics.Logins.WithLabelValues(loginPasskeySuccess).Inc()
	infoFrom(ctx).userID = out.user.ID.String()
	return api.PasskeyLogin200JSONResponse{TokenPairJSONResponse: pair}, nil
}

// passkeyOwner is the active account a discoverable assertion's user
// handle (the user's id) names, locked (user row, then its passkeys) in
// q's transaction; found is false when there is none, or when the address
// must be verified before any login (AUTHD_REQUIRE_VERIFIED_EMAIL) and is
// not: a passkey does not skip what a password login refuses.
func (s *Server) passkeyOwner(ctx context.Context, q *db.Queries, userHandle []byte) (passkeyUser, bool, error) {
	id, err := uuid.FromBytes(userHandle)
	if err != nil {
		return passkeyUser{}, false, nil
	}
	owner, found, err := lockPasskeyUser(ctx, q, id)
	if found && s.mail.RequireVerified && owner.user.EmailVerifiedAt == nil {
		return passkeyUser{}, false, nil
	}
	return owner, found, err
}

// lockPasskeyUser locks the user row of id and then its passkeys, in a
// login's lock order, in q's transaction; found is false when the account
// is gone or inactive.
func lockPasskeyUser(ctx context.Context, q *db.Queries, id uuid.UUID) (passkeyUser, bool, error) {
	cur, err := q.LockUserCredentials(ctx, id)
	if errors.Is(err, database.ErrNotFound) {
		return passkeyUser{}, false, nil
	}
	if err != nil {
		return passkeyUser{}, false, err
	}
	if !cur.IsActive {
		return passkeyUser{}, false, nil
	}
	u, err := q.GetUserByID(ctx, id)
	if err != nil {
		return passkeyUser{}, false, err
	}
	pks, err := q.LockPasskeys(ctx, id)
	if err != nil {
		return passkeyUser{}, false, err
	}
	return passkeyUser{user: u, passkeys: pks}, true, nil
}

// spendPasskey records an assertion go-webauthn accepted for one of
// owner's (locked) passkeys, in q's transaction: a signature counter that
// did not move forward from a non-zero stored one (go-webauthn's
// CloneWarning) refuses it and leaves passkey_clone_suspected, which the
// caller commits; otherwise the passkey's counter, backup state and last
// use are stored and passkey_used recorded.
func (s *Server) spendPasskey(ctx context.Context, q *db.Queries, owner passkeyUser, cred *webauthn.Credential, session *uuid.UUID) (passkeyVerdict, db.Passkey, error) {
	var pk db.Passkey
	found := false
	for _, p := range owner.passkeys {
		if bytes.Equal(p.CredentialID, cred.ID) {
			pk, found = p, true
			break
		}
	}
	if !found {
		return passkeyRefused, pk, nil // go-webauthn found it among owner's; defensive
	}
	if cred.Authenticator.CloneWarning {
		s.log.WarnContext(ctx, "passkey signature counter went backwards; refused as a suspected clone",
			"user_id", owner.user.ID.String(), "passkey_id", pk.ID.String(), "stored", pk.SignCount, "presented", cred.Authenticator.SignCount)
		return passkeyCloned, pk, s.recordSecurityEvent(ctx, q, owner.user.ID, evPasskeyCloneSuspected, session)
	}
	err := q.UsePasskey(ctx, db.UsePasskeyParams{
		ID: pk.ID, SignCount: int64(cred.Authenticator.SignCount), BackupState: cred.Flags.BackupState, Now: s.now(),
	})
	if err != nil {
		return passkeyRefused, pk, err
	}
	return passkeyAccepted, pk, s.recordSecurityEvent(ctx, q, owner.user.ID, evPasskeyUsed, session)
}

// logRefusedAssertion says at debug level why go-webauthn refused an
// assertion (the client only ever sees the one refusal).
func logRefusedAssertion(ctx context.Context, s *Server, err error) {
	reason, info := err.Error(), ""
	var perr *protocol.Error
	if errors.As(err, &perr) && perr.Details != "" {
		reason, info = perr.Details, perr.DevInfo
	}
	s.log.DebugContext(ctx, "passkey assertion refused", "reason", reason, "info", info)
}

// checkOwnedAssertion spends the ceremony of kind that parsed answers and
// checks the assertion with u's passkeys, in q's transaction, after the
// caller locked u's row: belongs says whether the ceremony is the one the
// caller started (its challenge, user, session). A ceremony that is void or
// someone else's refuses the assertion, and stays spent.
func (s *Server) checkOwnedAssertion(ctx context.Context, q *db.Queries, kind string, u db.User, parsed *protocol.ParsedCredentialAssertionData,
	belongs func(db.WebauthnCeremony) bool, session *uuid.UUID,
) (passkeyVerdict, db.Passkey, error) {
	c, sd, err := s.takeCeremony(ctx, q, kind, parsed.Response.CollectedClientData.Challenge)
	if errors.Is(err, errCeremonyVoid) {
		logRefusedAssertion(ctx, s, err)
		return passkeyRefused, db.Passkey{}, nil
	}
	if err != nil {
		return passkeyRefused, db.Passkey{}, err
	}
	if c.UserID == nil || *c.UserID != u.ID || !belongs(c) {
		logRefusedAssertion(ctx, s, errors.New("the ceremony is another user's, session's or login's"))
		return passkeyRefused, db.Passkey{}, nil
	}
	pks, err := q.LockPasskeys(ctx, u.ID)
	if err != nil {
		return passkeyRefused, db.Passkey{}, err
	}
	owner := passkeyUser{user: u, passkeys: pks}
	cred, err := s.webauthn.ValidateLogin(owner, sd, parsed)
	if err != nil {
		logRefusedAssertion(ctx, s, err)
		return passkeyRefused, db.Passkey{}, nil
	}
	return s.spendPasskey(ctx, q, owner, cred, session)
}

// beginOwnedLogin starts an assertion ceremony of kind for u's passkeys
// (listed as allowCredentials) and stores it for owner, in q's
// transaction. ok is false when u has no passkey.
func (s *Server) beginOwnedLogin(ctx context.Context, q *db.Queries, kind string, u db.User, owner ceremonyOwner) (api.PasskeyRequestOptionsJSONResponse, bool, error) {
	pks, err := q.ListPasskeys(ctx, u.ID)
	if err != nil || len(pks) == 0 {
		return api.PasskeyRequestOptionsJSONResponse{}, false, err
	}
	assertion, sd, err := s.webauthn.BeginLogin(passkeyUser{user: u, passkeys: pks}, webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return api.PasskeyRequestOptionsJSONResponse{}, false, err
	}
	if err := s.saveCeremony(ctx, q, kind, sd, owner); err != nil {
		return api.PasskeyRequestOptionsJSONResponse{}, false, err
	}
	res, err := requestOptions(assertion)
	return res, err == nil, err
}

// MfaPasskeyOptions implements api.StrictServerInterface: the challenge of
// a passkey as the second step of a login, listing the account's passkeys
// and bound to the login's challenge. A dead challenge, and an account
// without passkeys, answer 401 invalid-mfa-token.
func (s *Server) MfaPasskeyOptions(ctx context.Context, req api.MfaPasskeyOptionsRequestObject) (api.MfaPasskeyOptionsResponseObject, error) {
	var res api.PasskeyRequestOptionsJSONResponse
	ok := false
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		ch, u, err := s.openChallenge(ctx, q, req.Body.MfaToken)
		if errors.Is(err, errChallengeDead) {
			return nil
		}
		if err != nil || ch.Enrollment {
			return err
		}
		res, ok, err = s.beginOwnedLogin(ctx, q, ceremonyMFA, u, ceremonyOwner{userID: &u.ID, mfaChallengeID: &ch.ID})
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return api.MfaPasskeyOptions401ApplicationProblemPlusJSONResponse{InvalidMfaTokenApplicationProblemPlusJSONResponse: invalidMfaToken(ctx)}, nil
	}
	return api.MfaPasskeyOptions200JSONResponse{PasskeyRequestOptionsJSONResponse: res}, nil
}

// checkChallengePasskey checks a passkey assertion as the second step of
// challenge ch of u, in VerifyMfa's transaction: the ceremony must be one
// MfaPasskeyOptions started for this very challenge.
func (s *Server) checkChallengePasskey(ctx context.Context, q *db.Queries, ch db.MfaChallenge, u db.User, parsed *protocol.ParsedCredentialAssertionData) (passkeyVerdict, db.Passkey, error) {
	if ch.Enrollment {
		return passkeyRefused, db.Passkey{}, nil
	}
	return s.checkOwnedAssertion(ctx, q, ceremonyMFA, u, parsed, func(c db.WebauthnCeremony) bool {
		return c.MfaChallengeID != nil && *c.MfaChallengeID == ch.ID
	}, nil)
}

// StepUpPasskeyOptions implements api.StrictServerInterface: the challenge
// of a step-up with one of the caller's passkeys, bound to its session. An
// account without passkeys answers 409 factor-required.
func (s *Server) StepUpPasskeyOptions(ctx context.Context, _ api.StepUpPasskeyOptionsRequestObject) (api.StepUpPasskeyOptionsResponseObject, error) {
	me := caller(ctx)
	var res api.PasskeyRequestOptionsJSONResponse
	ok := false
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		res, ok, err = s.beginOwnedLogin(ctx, q, ceremonyStepUp, me.user, ceremonyOwner{userID: &me.user.ID, sessionID: &me.sessionID})
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		p := problem(ctx, typeFactorRequired, "The account has no passkey; step up with a code or the password.")
		return api.StepUpPasskeyOptions409ApplicationProblemPlusJSONResponse{FactorConflictApplicationProblemPlusJSONResponse: api.FactorConflictApplicationProblemPlusJSONResponse(p)}, nil
	}
	return api.StepUpPasskeyOptions200JSONResponse{PasskeyRequestOptionsJSONResponse: res}, nil
}

// checkStepUpPasskey checks a passkey assertion for a step-up of the
// caller's session, in the transaction that raises it: the ceremony must
// be one StepUpPasskeyOptions started for this user and session. The user
// row is locked first, as every check of factors does.
func (s *Server) checkStepUpPasskey(ctx context.Context, q *db.Queries, parsed *protocol.ParsedCredentialAssertionData) (passkeyVerdict, db.Passkey, error) {
	me := caller(ctx)
	if err := lockFactorsOf(ctx, q, me.user.ID); err != nil {
		return passkeyRefused, db.Passkey{}, err
	}
	return s.checkOwnedAssertion(ctx, q, ceremonyStepUp, me.user, parsed, func(c db.WebauthnCeremony) bool {
		return c.SessionID != nil && *c.SessionID == me.sessionID
	}, &me.sessionID)
}
