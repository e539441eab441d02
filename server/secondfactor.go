package server

import (
	"context"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/mfa"
)

// maxActiveFactors caps a user's active factors: what grows per account is bounded.
const maxActiveFactors = 5

// secondFactor is what a caller presents as a second factor: a TOTP code
// or a recovery code, exactly one of them.
type secondFactor struct {
	code, recoveryCode string
}

// The second-factor methods, as MfaChallenge.methods and the metrics name them.
const (
	methodTOTP         = "totp"
	methodRecoveryCode = "recovery_code"
)

// method names the factor: totp or recovery_code.
func (f secondFactor) method() string {
	if f.recoveryCode != "" {
		return methodRecoveryCode
	}
	return methodTOTP
}

// factorVerdict is what spendSecondFactor found.
type factorVerdict int

const (
	factorWrong    factorVerdict = iota // no active factor has this code; no such unused recovery code
	factorReplayed                      // a right TOTP code whose step (or a later one) was already accepted
	factorAccepted                      // right, and now spent
)

// spendSecondFactor checks f against u's active factors or unused recovery
// codes and spends it, in q's transaction. A TOTP code's time step is
// recorded on its factor, so that code and every earlier one are refused
// from then on; the factor rows are locked first, so of concurrent
// submissions of one code exactly one is accepted. A recovery code is
// marked used (one conditional update, so it too works once), recorded as
// recovery_code_used and noticed by mail. The caller counts failures.
func (s *Server) spendSecondFactor(ctx context.Context, q *db.Queries, u db.User, session *uuid.UUID, f secondFactor) (factorVerdict, error) {
	now := s.now()
	if err := lockFactorsOf(ctx, q, u.ID); err != nil {
		return factorWrong, err
	}
	if f.recoveryCode != "" {
		n, err := q.UseRecoveryCode(ctx, db.UseRecoveryCodeParams{UserID: u.ID, CodeHash: mfa.HashRecoveryCode(u.ID, f.recoveryCode), Now: now})
		if err != nil || n == 0 {
			return factorWrong, err
		}
		if err := s.recordSecurityEvent(ctx, q, u.ID, evRecoveryUsed, session); err != nil {
			return factorWrong, err
		}
		return factorAccepted, s.noticeMail(ctx, q, mail.KindRecoveryCodeUsed, u.ID, u.Email)
	}
	factors, err := q.LockActiveFactors(ctx, u.ID)
	if err != nil {
		return factorWrong, err
	}
	for _, factor := range factors {
		secret, err := s.openFactorSecret(ctx, factor)
		if err != nil {
			continue // logged; a factor whose secret cannot be opened matches nothing
		}
		step, ok := mfa.MatchStep(secret, f.code, now)
		if !ok {
			continue
		}
		n, err := q.AcceptTotpStep(ctx, db.AcceptTotpStepParams{ID: factor.ID, Step: step, Now: now})
		if err != nil {
			return factorWrong, err
		}
		if n == 0 {
			return factorReplayed, nil
		}
		return factorAccepted, nil
	}
	return factorWrong, nil
}

// lockFactorsOf holds the user's row for the rest of q's transaction. Every
// check or change of the user's factors and recovery codes takes it first,
// so counts (the factor limit, a first factor) and sets (recovery codes)
// are read and written by one request at a time, and locks are always
// taken user first, then factors.
func lockFactorsOf(ctx context.Context, q *db.Queries, userID uuid.UUID) error {
	_, err := q.LockUserCredentials(ctx, userID)
	return err
}

// sealFactorSecret encrypts a TOTP secret under the primary data key,
// bound to its factor and user (mfa.SecretAAD).
func (s *Server) sealFactorSecret(id, userID uuid.UUID, secret string) (kid string, sealed []byte) {
	return s.dataKeys.Seal([]byte(secret), mfa.SecretAAD(id, userID))
}

// openFactorSecret decrypts a factor's TOTP secret. A failure means the
// data key it was sealed with is gone or the row was tampered with: an
// operator's problem, logged as an error.
func (s *Server) openFactorSecret(ctx context.Context, f db.MfaFactor) (string, error) {
	plain, err := s.dataKeys.Open(f.SecretKid, f.SecretSealed, mfa.SecretAAD(f.ID, f.UserID))
	if err != nil {
		s.log.ErrorContext(ctx, "factor secret cannot be opened; is its data key in AUTHD_DATA_KEYS_FILE?", "factor_id", f.ID.String(), "kid", f.SecretKid, "error", err.Error())
		return "", err
	}
	return string(plain), nil
}

// recordMFAFailure leaves an mfa_failed event for a wrong or replayed code,
// in a transaction of its own: the request's own work is rolled back.
func (s *Server) recordMFAFailure(ctx context.Context, userID uuid.UUID, session *uuid.UUID) {
	err := s.db.InTx(ctx, func(q *db.Queries) error { return s.recordSecurityEvent(ctx, q, userID, evMFAFailed, session) })
	if err != nil {
		s.log.WarnContext(ctx, "could not record a failed second factor", "error", err.Error())
	}
}
