package server

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/mfa"
)

// pendingFactorTTL is how long an enrolment waits for its first code.
const pendingFactorTTL = 15 * time.Minute

// factorTOTP is the kind of an authenticator-app factor.
const factorTOTP = "totp"

// defaultFactorName names a factor its user did not name.
const defaultFactorName = "Authenticator app"

// errFactorLimit means the account has the most active factors already.
var errFactorLimit = errors.New("factor limit reached")

// maxFirstCodeFailures is how many wrong first codes end an enrolment.
const maxFirstCodeFailures = 5

// enrolTOTP creates an unverified TOTP factor for u in q's transaction,
// replacing u's earlier unverified ones, and returns what the
// authenticator app needs. Only session can verify it (nil: an enrolment
// at login, verified through its challenge). errFactorLimit when u has
// maxActiveFactors.
func (s *Server) enrolTOTP(ctx context.Context, q *db.Queries, u db.User, name *string, session *uuid.UUID) (api.TotpEnrollment, error) {
	if err := lockFactorsOf(ctx, q, u.ID); err != nil {
		return api.TotpEnrollment{}, err
	}
	active, err := q.CountActiveFactors(ctx, u.ID)
	if err != nil {
		return api.TotpEnrollment{}, err
	}
	if active >= maxActiveFactors {
		return api.TotpEnrollment{}, errFactorLimit
	}
	if err := q.DeleteUnverifiedFactors(ctx, u.ID); err != nil {
		return api.TotpEnrollment{}, err
	}
	e, err := mfa.NewTOTP(s.mfa.Issuer, strings.ReplaceAll(s.mfa.AccountLabel, "{email}", u.Email))
	if err != nil {
		return api.TotpEnrollment{}, err
	}
	id := uuid.New()
	kid, sealed := s.sealFactorSecret(id, u.ID, e.Secret)
	friendly := defaultFactorName
	if name != nil {
		friendly = *name
	}
	expires := s.now().Add(pendingFactorTTL)
	f, err := q.CreateFactor(ctx, db.CreateFactorParams{
		ID: id, UserID: u.ID, Kind: factorTOTP, FriendlyName: friendly,
		SecretKid: kid, SecretSealed: sealed, ExpiresAt: &expires, SessionID: session, Now: s.now(),
	})
	if err != nil {
		return api.TotpEnrollment{}, err
	}
	countOnSuccess(ctx, func() { s.metrics.Factors.WithLabelValues("enrolled").Inc() })
	return api.TotpEnrollment{Factor: factorJSON(f), Secret: e.Secret, OtpauthUri: e.URI, QrCode: e.QRCode, ExpiresAt: expires}, nil
}

// activateFactor checks the first code of u's unverified factor id and, when
// it is right, makes the factor active in q's transaction: its step is
// spent, a factor_added event recorded and a notice mailed. When it is u's
// first active factor, codes is a new set of recovery codes (only their
// hashes are stored). database.ErrNotFound when there is no such unexpired
// enrolment of u started by session; verdict factorWrong for a wrong code,
// which counts against the enrolment (the fifth ends it) and commits.
func (s *Server) activateFactor(ctx context.Context, q *db.Queries, u db.User, id uuid.UUID, code string, session *uuid.UUID) (f db.MfaFactor, codes []string, verdict factorVerdict, err error) {
	now := s.now()
	if err := lockFactorsOf(ctx, q, u.ID); err != nil {
		return f, nil, factorWrong, err
	}
	pending, err := q.LockPendingFactor(ctx, db.LockPendingFactorParams{ID: id, UserID: u.ID, SessionID: session, Now: now})
	if err != nil {
		return f, nil, factorWrong, err
	}
	active, err := q.CountActiveFactors(ctx, u.ID)
	if err != nil {
		return f, nil, factorWrong, err
	}
	if active >= maxActiveFactors {
		return f, nil, factorWrong, errFactorLimit
	}
	secret, err := s.openFactorSecret(ctx, pending) // logged; an enrolment that does not open matches nothing
	step, ok := mfa.MatchStep(secret, code, now)
	if err != nil || !ok {
		failures, err := q.FailPendingFactor(ctx, id)
		if err == nil && failures >= maxFirstCodeFailures {
			err = q.DeleteUnverifiedFactors(ctx, u.ID)
		}
		return f, nil, factorWrong, err
	}
	hadFactor, err := q.HasActiveFactor(ctx, u.ID) // a TOTP factor or a passkey
	if err != nil {
		return f, nil, factorWrong, err
	}
	if f, err = q.ActivateFactor(ctx, db.ActivateFactorParams{ID: id, Step: step, Now: now}); err != nil {
		return f, nil, factorWrong, err
	}
	if !hadFactor {
		if codes, err = s.replaceRecoveryCodes(ctx, q, u.ID); err != nil {
			return f, nil, factorWrong, err
		}
	}
	if err := s.recordSecurityEvent(ctx, q, u.ID, evFactorAdded, session); err != nil {
		return f, nil, factorWrong, err
	}
	countOnSuccess(ctx, func() { s.metrics.Factors.WithLabelValues("activated").Inc() })
	return f, codes, factorAccepted, s.noticeMail(ctx, q, mail.KindFactorAdded, u.ID, u.Email)
}

// replaceRecoveryCodes voids u's recovery codes and stores the hashes of a
// new set, which it returns: the only time the codes are seen.
func (s *Server) replaceRecoveryCodes(ctx context.Context, q *db.Queries, userID uuid.UUID) ([]string, error) {
	codes := mfa.NewRecoveryCodes()
	hashes := make([][]byte, len(codes))
	for i, c := range codes {
		hashes[i] = mfa.HashRecoveryCode(userID, c)
	}
	return codes, q.ReplaceRecoveryCodes(ctx, db.ReplaceRecoveryCodesParams{UserID: userID, Hashes: hashes, Now: s.now()})
}

// ListFactors implements api.StrictServerInterface: the caller's active
// factors and unexpired enrolments, and how many recovery codes are left.
func (s *Server) ListFactors(ctx context.Context, _ api.ListFactorsRequestObject) (api.ListFactorsResponseObject, error) {
	me, q := caller(ctx), s.db.Queries()
	rows, err := q.ListFactors(ctx, db.ListFactorsParams{UserID: me.user.ID, Now: s.now()})
	if err != nil {
		return nil, err
	}
	left, err := q.CountRecoveryCodes(ctx, me.user.ID)
	if err != nil {
		return nil, err
	}
	list := api.FactorList{Factors: make([]api.Factor, len(rows)), RecoveryCodesRemaining: int(left)}
	for i, f := range rows {
		list.Factors[i] = factorJSON(f)
	}
	return api.ListFactors200JSONResponse(list), nil
}

// StartTotpEnrollment implements api.StrictServerInterface (behind step-up).
// The password is asked again: a thief with a fresh access token must not
// add an authenticator the owner could then neither pass nor remove.
func (s *Server) StartTotpEnrollment(ctx context.Context, req api.StartTotpEnrollmentRequestObject) (api.StartTotpEnrollmentResponseObject, error) {
	me := caller(ctx)
	ok, err := s.checkCurrentPassword(ctx, req.Body.CurrentPassword)
	var wait *refusal
	switch {
	case errors.As(err, &wait):
		return api.StartTotpEnrollment429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case errors.Is(err, errCurrentPasswordRequired):
		return api.StartTotpEnrollment422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: currentPasswordRequired(ctx)}, nil
	case err != nil:
		return nil, err
	case !ok:
		return api.StartTotpEnrollment403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: wrongCurrentPassword(ctx)}, nil
	}
	var e api.TotpEnrollment
	err = s.db.InTx(ctx, func(q *db.Queries) (err error) {
		e, err = s.enrolTOTP(ctx, q, me.user, req.Body.FriendlyName, &me.sessionID)
		return err
	})
	switch {
	case errors.Is(err, errFactorLimit):
		return api.StartTotpEnrollment409ApplicationProblemPlusJSONResponse{FactorConflictApplicationProblemPlusJSONResponse: factorLimit(ctx)}, nil
	case err != nil:
		return nil, err
	}
	return api.StartTotpEnrollment201JSONResponse{TotpEnrollmentJSONResponse: api.TotpEnrollmentJSONResponse{Body: e, Headers: api.TotpEnrollmentResponseHeaders{CacheControl: ptr("no-store")}}}, nil
}

// VerifyFactor implements api.StrictServerInterface: the first code of an
// enrolment activates it.
func (s *Server) VerifyFactor(ctx context.Context, req api.VerifyFactorRequestObject) (api.VerifyFactorResponseObject, error) {
	me := caller(ctx)
	var f db.MfaFactor
	var codes []string
	var verdict factorVerdict
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		f, codes, verdict, err = s.activateFactor(ctx, q, me.user, req.Id, req.Body.Code, &me.sessionID)
		return err
	})
	switch {
	case errors.Is(err, database.ErrNotFound):
		return api.VerifyFactor404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such enrolment; start a new one.")}, nil
	case errors.Is(err, errFactorLimit):
		// Another enrolment reached the limit since this one started.
		return api.VerifyFactor409ApplicationProblemPlusJSONResponse{FactorConflictApplicationProblemPlusJSONResponse: factorLimit(ctx)}, nil
	case err != nil:
		return nil, err
	case verdict != factorAccepted:
		s.recordMFAFailure(ctx, me.user.ID, &me.sessionID)
		return api.VerifyFactor403ApplicationProblemPlusJSONResponse{InvalidMfaCodeApplicationProblemPlusJSONResponse: api.InvalidMfaCodeApplicationProblemPlusJSONResponse(invalidMfaCode(ctx))}, nil
	}
	out := api.FactorActivated{Factor: factorJSON(f)}
	if codes != nil {
		out.RecoveryCodes = &codes
	}
	return api.VerifyFactor200JSONResponse(out), nil
}

// errNoFactor means the account has no active second factor.
var errNoFactor = errors.New("no active factor")

// DeleteFactor implements api.StrictServerInterface (behind step-up): one
// of the caller's factors, active or an enrolment, goes. The user's active
// factors are locked first, so that of concurrent removals the last one
// sees that no factor remains and voids the recovery codes with it, and a
// regeneration cannot slip in between. Removing an active factor is
// recorded (factor_removed) and mailed; an enrolment that was never
// verified was never announced either, so its removal is not.
func (s *Server) DeleteFactor(ctx context.Context, req api.DeleteFactorRequestObject) (api.DeleteFactorResponseObject, error) {
	me := caller(ctx)
	ok, err := s.checkCurrentPassword(ctx, req.Body.CurrentPassword)
	var wait *refusal
	switch {
	case errors.As(err, &wait):
		return api.DeleteFactor429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case errors.Is(err, errCurrentPasswordRequired):
		return api.DeleteFactor422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: currentPasswordRequired(ctx)}, nil
	case err != nil:
		return nil, err
	case !ok:
		return api.DeleteFactor403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: wrongCurrentPassword(ctx)}, nil
	}
	var wasActive bool
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		if err := lockFactorsOf(ctx, q, me.user.ID); err != nil {
			return err
		}
		active, err := q.LockActiveFactors(ctx, me.user.ID)
		if err != nil {
			return err
		}
		n, err := q.DeleteFactor(ctx, db.DeleteFactorParams{ID: req.Id, UserID: me.user.ID})
		if err != nil {
			return err
		}
		if n == 0 {
			return database.ErrNotFound
		}
		wasActive = slices.ContainsFunc(active, func(f db.MfaFactor) bool { return f.ID == req.Id })
		if !wasActive {
			return nil
		}
		if err := s.dropCodesWithoutFactor(ctx, q, me.user.ID); err != nil {
			return err
		}
		if err := s.recordSecurityEvent(ctx, q, me.user.ID, evFactorRemoved, &me.sessionID); err != nil {
			return err
		}
		return s.noticeMail(ctx, q, mail.KindFactorRemoved, me.user.ID, me.user.Email)
	})
	switch {
	case errors.Is(err, database.ErrNotFound):
		return api.DeleteFactor404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such factor.")}, nil
	case err != nil:
		return nil, err
	}
	if wasActive {
		s.metrics.Factors.WithLabelValues("removed").Inc()
	}
	return api.DeleteFactor204Response{}, nil
}

// RegenerateRecoveryCodes implements api.StrictServerInterface (behind
// step-up): a new set replaces the old one, which stops working at once.
// The active factors are locked as DeleteFactor locks them, so a set is
// never made for an account whose last factor is being removed.
func (s *Server) RegenerateRecoveryCodes(ctx context.Context, req api.RegenerateRecoveryCodesRequestObject) (api.RegenerateRecoveryCodesResponseObject, error) {
	me := caller(ctx)
	ok, err := s.checkCurrentPassword(ctx, req.Body.CurrentPassword)
	var wait *refusal
	switch {
	case errors.As(err, &wait):
		return api.RegenerateRecoveryCodes429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case errors.Is(err, errCurrentPasswordRequired):
		return api.RegenerateRecoveryCodes422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: currentPasswordRequired(ctx)}, nil
	case err != nil:
		return nil, err
	case !ok:
		return api.RegenerateRecoveryCodes403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: wrongCurrentPassword(ctx)}, nil
	}
	var codes []string
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		if err := lockFactorsOf(ctx, q, me.user.ID); err != nil {
			return err
		}
		active, err := q.LockActiveFactors(ctx, me.user.ID)
		if err != nil {
			return err
		}
		if len(active) == 0 {
			return errNoFactor
		}
		if codes, err = s.replaceRecoveryCodes(ctx, q, me.user.ID); err != nil {
			return err
		}
		if err := s.recordSecurityEvent(ctx, q, me.user.ID, evCodesRenewed, &me.sessionID); err != nil {
			return err
		}
		return s.noticeMail(ctx, q, mail.KindRecoveryCodesRenewed, me.user.ID, me.user.Email)
	})
	switch {
	case errors.Is(err, errNoFactor):
		return api.RegenerateRecoveryCodes409ApplicationProblemPlusJSONResponse{FactorConflictApplicationProblemPlusJSONResponse: factorRequired(ctx)}, nil
	case err != nil:
		return nil, err
	}
	s.metrics.Factors.WithLabelValues("codes_regenerated").Inc()
	return api.RegenerateRecoveryCodes200JSONResponse(api.RecoveryCodes{RecoveryCodes: codes}), nil
}

// dropCodesWithoutFactor voids the user's recovery codes once the user has
// no second factor left (no TOTP factor, no passkey), in q's transaction,
// which holds the user row (lockFactorsOf).
func (s *Server) dropCodesWithoutFactor(ctx context.Context, q *db.Queries, userID uuid.UUID) error {
	has, err := q.HasActiveFactor(ctx, userID)
	if err != nil || has {
		return err
	}
	return q.DeleteRecoveryCodes(ctx, userID)
}
