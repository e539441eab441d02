package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/token"
)

// maxChallengeFailures is how many wrong codes kill a login's challenge.
const maxChallengeFailures = 5

// secondStep is what a login whose password was right still needs.
type secondStep int

const (
	noSecondStep  secondStep = iota // tokens now
	factorStep                      // a code of the account's active factor
	enrolmentStep                   // AUTHD_REQUIRE_MFA and no factor: enrol one, then its first code
)

// secondStepNeeded says whether a login of u whose password was right must
// pass a second factor, or enrol one first.
func (s *Server) secondStepNeeded(ctx context.Context, u db.User) (secondStep, error) {
	has, err := s.db.Queries().HasActiveFactor(ctx, u.ID)
	switch {
	case err != nil:
		return noSecondStep, err
	case has:
		return factorStep, nil
	case s.mfa.Require:
		return enrolmentStep, nil
	}
	return noSecondStep, nil
}

// passwordTag binds a challenge to the password hash its login verified, so
// that a password change in between voids it.
func passwordTag(hash string) []byte {
	sum := sha256.Sum256([]byte(hash))
	return sum[:]
}

// challenge answers a login of u whose first step was right with the
// second step it needs: a new challenge, valid for AUTHD_MFA_CHALLENGE_TTL,
// that remembers the first step's methods (amr: pwd, or fed after a
// provider's login) for the session the second step makes. Like
// startSession it holds the user row and refuses with errCredentialsChanged
// when the verified hash is no longer the stored one; upgraded, when set,
// replaces it first (the password was right, whatever the second step
// brings), and the challenge is bound to the hash now stored, so that a
// password change voids it (a federated login's too).
func (s *Server) challenge(ctx context.Context, u db.User, upgraded string, step secondStep, amr []string) (api.MfaChallengeJSONResponse, error) {
	mfaToken := token.NewOpaque()
	methods := []string{}
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		cur, err := q.LockUserCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.PasswordHash != u.PasswordHash || !cur.IsActive {
			return errCredentialsChanged
		}
		hash := u.PasswordHash
		if upgraded != "" {
			if err := q.SetPasswordHash(ctx, db.SetPasswordHashParams{ID: u.ID, PasswordHash: upgraded}); err != nil {
				return err
			}
			hash = upgraded
		}
		if step == factorStep {
			var err error
			if methods, err = challengeMethods(ctx, q, u.ID); err != nil {
				return err
			}
		}
		return q.CreateMfaChallenge(ctx, db.CreateMfaChallengeParams{
			TokenHash: token.HashOpaque(mfaToken), UserID: u.ID, PasswordTag: passwordTag(hash),
			Enrollment: step == enrolmentStep, Amr: amr, Now: s.now(), ExpiresAt: s.now().Add(s.mfa.ChallengeTTL),
		})
	})
	if err != nil {
		return api.MfaChallengeJSONResponse{}, err
	}
	infoFrom(ctx).userID = u.ID.String()
	return api.MfaChallengeJSONResponse{
		Body: api.MfaChallenge{
			MfaToken: mfaToken, ExpiresIn: int(s.mfa.ChallengeTTL.Seconds()), Methods: methods,
			EnrollmentRequired: step == enrolmentStep,
		},
		Headers: api.MfaChallengeResponseHeaders{CacheControl: ptr("no-store")},
	}, nil
}

// secondStepAMR is the methods of a session a challenge's second step
// makes: the first step's, as the challenge remembers them, then method.
func secondStepAMR(ch db.MfaChallenge, method string) []string {
	first := ch.Amr
	if len(first) == 0 {
		first = []string{token.MethodPassword} // a challenge from before the column
	}
	return append(slices.Clone(first), method)
}

// challengeMethods lists what completes a login of the account: totp when
// it has an active authenticator app, recovery_code while codes are left,
// passkey when it has a passkey.
func challengeMethods(ctx context.Context, q *db.Queries, userID uuid.UUID) ([]string, error) {
	methods := []string{}
	apps, err := q.CountActiveFactors(ctx, userID)
	if err != nil {
		return nil, err
	}
	if apps > 0 {
		methods = append(methods, methodTOTP)
	}
	left, err := q.CountRecoveryCodes(ctx, userID)
	if err != nil {
		return nil, err
	}
	if left > 0 {
		methods = append(methods, methodRecoveryCode)
	}
	passkeys, err := q.CountPasskeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	if passkeys > 0 {
		methods = append(methods, methodPasskey)
	}
	return methods, nil
}

// errChallengeDead means the mfa_token names no live challenge: unknown,
// expired, used, dead after too many wrong codes, or voided by a change of
// the password or of the account since the login.
var errChallengeDead = errors.New("no such live MFA challenge")

// openChallenge locks the live challenge of mfaToken and reloads its user
// in q's transaction. A challenge whose user is gone, deactivated or has
// another password now is deleted (the caller commits) and errChallengeDead
// returned, as for an unknown or expired one.
func (s *Server) openChallenge(ctx context.Context, q *db.Queries, mfaToken string) (db.MfaChallenge, db.User, error) {
	ch, err := q.LockMfaChallenge(ctx, db.LockMfaChallengeParams{TokenHash: token.HashOpaque(mfaToken), Now: s.now()})
	if errors.Is(err, database.ErrNotFound) {
		return ch, db.User{}, errChallengeDead
	}
	if err != nil {
		return ch, db.User{}, err
	}
	u, err := q.GetUserByID(ctx, ch.UserID)
	if err != nil && !errors.Is(err, database.ErrNotFound) {
		return ch, u, err
	}
	if err != nil || !u.IsActive || subtle.ConstantTimeCompare(passwordTag(u.PasswordHash), ch.PasswordTag) != 1 {
		return ch, u, s.killChallenge(ctx, q, ch.ID)
	}
	if ch.Enrollment {
		// An enrolment challenge is for an account without a factor: once
		// it has one (enrolled from a session meanwhile), only that
		// factor's code completes a login.
		has, err := q.HasActiveFactor(ctx, u.ID)
		if err != nil {
			return ch, u, err
		}
		if has {
			return ch, u, s.killChallenge(ctx, q, ch.ID)
		}
	}
	return ch, u, nil
}

// killChallenge deletes a challenge that can no longer complete a login
// and returns errChallengeDead, or the error of the deletion.
func (s *Server) killChallenge(ctx context.Context, q *db.Queries, id uuid.UUID) error {
	if err := q.DeleteMfaChallenge(ctx, id); err != nil {
		return err
	}
	return errChallengeDead
}

// mfaLogin is what VerifyMfa's transaction found.
type mfaLogin struct {
	user    db.User
	dead    bool // errChallengeDead
	verdict factorVerdict
	session db.Session
	refresh string
	codes   []string // recovery codes of a required enrolment
	passkey passkeyVerdict
}

// VerifyMfa implements api.StrictServerInterface: the second step of a
// login. In one transaction the challenge is locked (so its codes are
// checked one at a time), the attempt admitted by the login backoff of the
// account and this client, and the code checked and spent; a wrong or
// replayed code commits the challenge's failure count (and kills it at
// maxChallengeFailures), a right one deletes the challenge and starts the
// session, whose tokens carry the first step's methods (the challenge's
// amr: pwd, or fed after a provider's login) and "otp": ["pwd","otp"]. A
// recovery code is "otp" too: RFC 8176 has no value of its own for it, and
// it is a one-time password. A passkey assertion (for a ceremony
// MfaPasskeyOptions started for this challenge) is checked in the same
// transaction, after the same locks, and counts like a code when refused;
// it adds "hwk" or "swk": ["pwd", "hwk"].
func (s *Server) VerifyMfa(ctx context.Context, req api.VerifyMfaRequestObject) (api.VerifyMfaResponseObject, error) {
	f := secondFactor{}
	if req.Body.Code != nil {
		f.code = *req.Body.Code
	}
	if req.Body.RecoveryCode != nil {
		f.recoveryCode = *req.Body.RecoveryCode
	}
	method := f.method()
	var assertion *protocol.ParsedCredentialAssertionData
	if req.Body.Passkey != nil {
		var bad *api.UnprocessableEntityApplicationProblemPlusJSONResponse
		if assertion, bad = parseAssertion(ctx, "passkey", *req.Body.Passkey); bad != nil {
			return api.VerifyMfa422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: *bad}, nil
		}
		method = methodPasskey
	}
	ip := infoFrom(ctx).ip
	count := func(outcome string) { s.metrics.MFA.WithLabelValues(method, outcome).Inc() }
	dead := func() (api.VerifyMfaResponseObject, error) {
		count("challenge_dead")
		return api.VerifyMfa401ApplicationProblemPlusJSONResponse{InvalidMfaTokenApplicationProblemPlusJSONResponse: invalidMfaToken(ctx)}, nil
	}
	// The account's address, for the backoff: the attempt is counted
	// before the code is checked and outside the transaction (as a
	// password's is), so concurrent guesses cannot slip past a count that
	// only failures would update. The transaction checks the challenge again.
	email, err := s.challengeEmail(ctx, req.Body.MfaToken)
	if err != nil {
		return nil, err
	}
	if email == "" {
		return dead()
	}
	wait, err := s.admitLogin(ctx, email, ip)
	if err != nil {
		return nil, err
	}
	if wait != nil {
		count("throttled")
		return api.VerifyMfa429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	}
	var out mfaLogin
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		out = mfaLogin{}
		ch, u, err := s.openChallenge(ctx, q, req.Body.MfaToken)
		out.user = u
		if errors.Is(err, errChallengeDead) {
			out.dead = true
			return nil
		}
		if err != nil {
			return err
		}
		// The user row first, as every change of credentials takes it, then
		// the factor rows.
		if _, err := q.LockUserCredentials(ctx, u.ID); err != nil {
			return err
		}
		amr := secondStepAMR(ch, token.MethodOTP)
		if assertion != nil {
			var pk db.Passkey
			if out.passkey, pk, err = s.checkChallengePasskey(ctx, q, ch, u, assertion); err != nil {
				return err
			}
			out.verdict = out.passkey.factor()
			amr = secondStepAMR(ch, passkeyMethod(pk.BackupEligible))
		} else if out.verdict, out.codes, err = s.checkChallengeCode(ctx, q, ch, u, f); err != nil {
			return err
		}
		if out.verdict != factorAccepted {
			failures, err := q.FailMfaChallenge(ctx, ch.ID)
			if err != nil {
				return err
			}
			if failures >= maxChallengeFailures {
				return q.DeleteMfaChallenge(ctx, ch.ID)
			}
			return nil // committed: the failure counts though the request fails
		}
		if err := q.DeleteMfaChallenge(ctx, ch.ID); err != nil {
			return err
		}
		out.session, out.refresh, err = s.createSession(ctx, q, u, "", amr)
		return err
	})
	if errors.Is(err, errCredentialsChanged) {
		// The password changed or the account was deactivated while this
		// request waited: the challenge is void (the next use deletes it).
		return dead()
	}
	if err != nil {
		return nil, err
	}
	switch {
	case out.dead:
		return dead()
	case out.verdict != factorAccepted:
		if assertion != nil {
			count(out.passkey.outcome())
		} else if out.verdict == factorReplayed {
			count("replayed")
		} else {
			count("wrong_code")
		}
		s.recordMFAFailure(ctx, out.user.ID, nil)
		refusal := invalidMfaCode(ctx)
		if assertion != nil {
			refusal = passkeyNotAccepted(ctx)
		}
		return api.VerifyMfa403ApplicationProblemPlusJSONResponse{InvalidMfaCodeApplicationProblemPlusJSONResponse: api.InvalidMfaCodeApplicationProblemPlusJSONResponse(refusal)}, nil
	}
	s.forgiveLogin(ctx, email, ip)
	pair, err := s.sessionPair(out.session, out.user.Roles, out.refresh)
	if err != nil {
		return nil, err
	}
	count("success")
	if out.codes != nil {
		pair.Body.RecoveryCodes = &out.codes
	}
	infoFrom(ctx).userID = out.user.ID.String()
	return api.VerifyMfa200JSONResponse{TokenPairJSONResponse: pair}, nil
}

// challengeEmail is the address of the account whose live challenge
// mfaToken names, or "" when there is none.
func (s *Server) challengeEmail(ctx context.Context, mfaToken string) (string, error) {
	q := s.db.Queries()
	// Outside a transaction the lock ends with the statement: a read that
	// waits for a concurrent check of the same challenge.
	ch, err := q.LockMfaChallenge(ctx, db.LockMfaChallengeParams{TokenHash: token.HashOpaque(mfaToken), Now: s.now()})
	if errors.Is(err, database.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	u, err := q.GetUserByID(ctx, ch.UserID)
	if errors.Is(err, database.ErrNotFound) {
		return "", nil
	}
	return u.Email, err
}

// checkChallengeCode checks and spends f for challenge ch of u, in q's
// transaction: a code of an active factor or an unused recovery code, or,
// for a required enrolment, the first code of the factor enrolled through
// the challenge, which it activates (codes is then the new recovery codes).
func (s *Server) checkChallengeCode(ctx context.Context, q *db.Queries, ch db.MfaChallenge, u db.User, f secondFactor) (factorVerdict, []string, error) {
	if !ch.Enrollment {
		verdict, err := s.spendSecondFactor(ctx, q, u, nil, f)
		return verdict, nil, err
	}
	if ch.FactorID == nil || f.code == "" {
		return factorWrong, nil, nil // nothing enrolled yet, or no authenticator's code
	}
	_, codes, verdict, err := s.activateFactor(ctx, q, u, *ch.FactorID, f.code, nil)
	if errors.Is(err, database.ErrNotFound) {
		return factorWrong, nil, nil // the enrolment expired; POST /auth/mfa/totp starts another
	}
	return verdict, codes, err
}

// EnrollMfaTotp implements api.StrictServerInterface: during a login that
// must enrol a factor (AUTHD_REQUIRE_MFA), an authenticator app is enrolled
// for the challenge's account; a second call replaces it. Every other
// challenge answers 401.
func (s *Server) EnrollMfaTotp(ctx context.Context, req api.EnrollMfaTotpRequestObject) (api.EnrollMfaTotpResponseObject, error) {
	var e api.TotpEnrollment
	dead := false
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		ch, u, err := s.openChallenge(ctx, q, req.Body.MfaToken)
		if errors.Is(err, errChallengeDead) || (err == nil && !ch.Enrollment) {
			dead = true
			return nil
		}
		if err != nil {
			return err
		}
		if e, err = s.enrolTOTP(ctx, q, u, req.Body.FriendlyName, nil); err != nil {
			return err
		}
		return q.SetMfaChallengeFactor(ctx, db.SetMfaChallengeFactorParams{ID: ch.ID, FactorID: &e.Factor.Id})
	})
	if errors.Is(err, errFactorLimit) {
		// openChallenge saw no active factor; one came meanwhile.
		dead, err = true, nil
	}
	if err != nil {
		return nil, err
	}
	if dead {
		return api.EnrollMfaTotp401ApplicationProblemPlusJSONResponse{InvalidMfaTokenApplicationProblemPlusJSONResponse: invalidMfaToken(ctx)}, nil
	}
	return api.EnrollMfaTotp201JSONResponse{TotpEnrollmentJSONResponse: api.TotpEnrollmentJSONResponse{
		Body: e, Headers: api.TotpEnrollmentResponseHeaders{CacheControl: ptr("no-store")},
	}}, nil
}
