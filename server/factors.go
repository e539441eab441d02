package server

import (
	"context"
	"errors"
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

// defaultFactorName names a factor its user did not name.
const defaultFactorName = "Authenticator app"

// errFactorLimit means the account has the most active factors already.
var errFactorLimit = errors.New("factor limit reached")

// enrolTOTP creates an unverified TOTP factor for u in q's transaction,
// replacing u's earlier unverified ones, and returns what the
// authenticator app needs. errFactorLimit when u has maxActiveFactors.
func (s *Server) enrolTOTP(ctx context.Context, q *db.Queries, u db.User, name *string) (api.TotpEnrollment, error) {
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
	kid, sealed := s.sealFactorSecret(id, e.Secret)
	friendly := defaultFactorName
	if name != nil {
		friendly = *name
	}
	expires := s.now().Add(pendingFactorTTL)
	f, err := q.CreateFactor(ctx, db.CreateFactorParams{
		ID: id, UserID: u.ID, Kind: string(api.FactorTypeTotp), FriendlyName: friendly,
		SecretKid: kid, SecretSealed: sealed, ExpiresAt: &expires, Now: s.now(),
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
// enrolment of u; verdict factorWrong for a wrong code.
func (s *Server) activateFactor(ctx context.Context, q *db.Queries, u db.User, id uuid.UUID, code string, session *uuid.UUID) (f db.MfaFactor, codes []string, verdict factorVerdict, err error) {
	now := s.now()
	pending, err := q.LockPendingFactor(ctx, db.LockPendingFactorParams{ID: id, UserID: u.ID, Now: now})
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
	secret, err := s.openFactorSecret(ctx, pending)
	if err != nil {
		return f, nil, factorWrong, err
	}
	step, ok := mfa.MatchStep(secret, code, now)
	if !ok {
		return f, nil, factorWrong, nil
	}
	if f, err = q.ActivateFactor(ctx, db.ActivateFactorParams{ID: id, Step: step, Now: now}); err != nil {
		return f, nil, factorWrong, err
	}
	if active == 0 {
		if codes, err = s.replaceRecoveryCodes(ctx, q, u.ID); err != nil {
			return f, nil, factorWrong, err
		}
	}
	if err := s.recordSecurityEvent(ctx, q, u.ID, evFactorAdded, session); err != nil {
		return f, nil, factorWrong, err
	}
	countOnSuccess(ctx, func() { s.metrics.Factors.WithLabelValues("activated").Inc() })
	return f, codes, factorAccepted, s.noticeMail(ctx, q, mail.KindFactorAdded, u.Email)
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

// factorJSON is a factor as the API shows it: never its secret.
func factorJSON(f db.MfaFactor) api.Factor {
	status := api.Active
	if f.VerifiedAt == nil {
		status = api.Unverified
	}
	return api.Factor{
		Id: f.ID, Type: api.FactorType(f.Kind), FriendlyName: f.FriendlyName, Status: status,
		CreatedAt: f.CreatedAt, LastUsedAt: f.LastUsedAt,
	}
}

var _ = database.ErrNotFound // used by the handlers below

// ListFactors implements api.StrictServerInterface. TODO(feat/factors).
func (s *Server) ListFactors(ctx context.Context, _ api.ListFactorsRequestObject) (api.ListFactorsResponseObject, error) {
	return nil, errors.New("not implemented")
}

// StartTotpEnrollment implements api.StrictServerInterface. TODO(feat/factors).
func (s *Server) StartTotpEnrollment(ctx context.Context, req api.StartTotpEnrollmentRequestObject) (api.StartTotpEnrollmentResponseObject, error) {
	return nil, errors.New("not implemented")
}

// VerifyFactor implements api.StrictServerInterface. TODO(feat/factors).
func (s *Server) VerifyFactor(ctx context.Context, req api.VerifyFactorRequestObject) (api.VerifyFactorResponseObject, error) {
	return nil, errors.New("not implemented")
}

// DeleteFactor implements api.StrictServerInterface. TODO(feat/factors).
func (s *Server) DeleteFactor(ctx context.Context, req api.DeleteFactorRequestObject) (api.DeleteFactorResponseObject, error) {
	return nil, errors.New("not implemented")
}

// RegenerateRecoveryCodes implements api.StrictServerInterface. TODO(feat/factors).
func (s *Server) RegenerateRecoveryCodes(ctx context.Context, _ api.RegenerateRecoveryCodesRequestObject) (api.RegenerateRecoveryCodesResponseObject, error) {
	return nil, errors.New("not implemented")
}
