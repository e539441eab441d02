package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
)

// maxPasskeys is how many passkeys an account keeps at most.
const maxPasskeys = 10

// defaultPasskeyName names a passkey its user did not name.
const defaultPasskeyName = "Passkey"

// errPasskeyLimit means the account has maxPasskeys already.
var errPasskeyLimit = errors.New("passkey limit reached")

// errPasskeyTaken means the credential is registered already (to this
// account or another): the unique credential id says so.
var errPasskeyTaken = errors.New("passkey registered already")

// optionsJSON is go-webauthn's options as the generated body wants them: a
// JSON object as a map.
func optionsJSON(v any) (map[string]any, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(raw, &out)
}

// PasskeyRegistrationOptions implements api.StrictServerInterface (behind
// step-up): the creation options of a new passkey of the caller, whose
// password is asked again as for an authenticator app. The ceremony is
// stored for this user and session, and the account's passkeys are
// excluded, so that an authenticator does not register twice.
func (s *Server) PasskeyRegistrationOptions(ctx context.Context, req api.PasskeyRegistrationOptionsRequestObject) (api.PasskeyRegistrationOptionsResponseObject, error) {
	me := caller(ctx)
	ok, err := s.checkCurrentPassword(ctx, req.Body.CurrentPassword)
	var wait *refusal
	switch {
	case errors.As(err, &wait):
		return api.PasskeyRegistrationOptions429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case errors.Is(err, errCurrentPasswordRequired):
		return api.PasskeyRegistrationOptions422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: currentPasswordRequired(ctx)}, nil
	case err != nil:
		return nil, err
	case !ok:
		return api.PasskeyRegistrationOptions403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: wrongCurrentPassword(ctx)}, nil
	}
	var options map[string]any
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		if err := lockFactorsOf(ctx, q, me.user.ID); err != nil {
			return err
		}
		passkeys, err := q.ListPasskeys(ctx, me.user.ID)
		if err != nil {
			return err
		}
		if len(passkeys) >= maxPasskeys {
			return errPasskeyLimit
		}
		user := passkeyUser{user: me.user, passkeys: passkeys}
		exclude := make([]protocol.CredentialDescriptor, len(passkeys))
		for i, pk := range passkeys {
			c := credentialOf(pk)
			exclude[i] = c.Descriptor()
		}
		creation, sd, err := s.webauthn.BeginRegistration(user,
			webauthn.WithExclusions(exclude),
			webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
		if err != nil {
			return err
		}
		// The registration must finish while the step-up that allowed it holds.
		owner := ceremonyOwner{userID: &me.user.ID, sessionID: &me.sessionID, until: me.claims.AuthTime.Add(s.mfa.StepUpMaxAge)}
		if err := s.saveCeremony(ctx, q, ceremonyRegister, sd, owner); err != nil {
			return err
		}
		options, err = optionsJSON(creation.Response)
		return err
	})
	switch {
	case errors.Is(err, errPasskeyLimit):
		return api.PasskeyRegistrationOptions409ApplicationProblemPlusJSONResponse{FactorConflictApplicationProblemPlusJSONResponse: passkeyLimit(ctx)}, nil
	case err != nil:
		return nil, err
	}
	return api.PasskeyRegistrationOptions200JSONResponse{PasskeyCreationOptionsJSONResponse: api.PasskeyCreationOptionsJSONResponse{
		Body: api.PasskeyOptions{Options: options}, Headers: api.PasskeyCreationOptionsResponseHeaders{CacheControl: ptr("no-store")},
	}}, nil
}

// registration is what RegisterPasskey decided in its transaction.
type registration struct {
	passkey db.Passkey
	codes   []string
	void    bool   // no live ceremony of this session answers the challenge
	refused string // why the response does not verify, for the client
}

// RegisterPasskey implements api.StrictServerInterface: the attestation
// response to a ceremony this session started stores a passkey. The
// ceremony is spent whatever the verdict, so a challenge is answered once;
// one of another user or session is left alone for its owner. For the
// account's first factor the answer carries new recovery codes.
func (s *Server) RegisterPasskey(ctx context.Context, req api.RegisterPasskeyRequestObject) (api.RegisterPasskeyResponseObject, error) {
	me := caller(ctx)
	body, err := json.Marshal(req.Body.Credential)
	if err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return api.RegisterPasskey400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: unreadablePasskey(ctx)}, nil
	}
	name := defaultPasskeyName
	if req.Body.FriendlyName != nil {
		name = *req.Body.FriendlyName
	}
	var out registration
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		out = registration{}
		if err := lockFactorsOf(ctx, q, me.user.ID); err != nil {
			return err
		}
		c, sd, err := s.takeCeremony(ctx, q, ceremonyRegister, parsed.Response.CollectedClientData.Challenge)
		if errors.Is(err, errCeremonyVoid) {
			out.void = true
			return nil
		}
		if err != nil {
			return err
		}
		if c.UserID == nil || *c.UserID != me.user.ID || c.SessionID == nil || *c.SessionID != me.sessionID {
			// Not this session's: roll the take back, the owner may still answer it.
			return errCeremonyVoid
		}
		passkeys, err := q.ListPasskeys(ctx, me.user.ID)
		if err != nil {
			return err
		}
		if len(passkeys) >= maxPasskeys {
			return errPasskeyLimit
		}
		cred, err := s.webauthn.CreateCredential(passkeyUser{user: me.user, passkeys: passkeys}, sd, parsed)
		if err != nil {
			out.refused = passkeyRefusal(err)
			s.log.InfoContext(ctx, "passkey registration refused", "reason", out.refused, "error", err.Error())
			return nil // the ceremony stays spent
		}
		if _, err := q.GetPasskeyOwner(ctx, cred.ID); err == nil {
			out.refused = "This passkey is registered already."
			return nil
		} else if !errors.Is(err, database.ErrNotFound) {
			return err
		}
		hadFactor, err := q.HasActiveFactor(ctx, me.user.ID)
		if err != nil {
			return err
		}
		transports := knownTransports(cred.Transport)
		out.passkey, err = q.CreatePasskey(ctx, db.CreatePasskeyParams{
			UserID: me.user.ID, CredentialID: cred.ID, PublicKey: cred.PublicKey, AttestationType: cred.AttestationType,
			Aaguid: cred.Authenticator.AAGUID, SignCount: int64(cred.Authenticator.SignCount), Transports: transports,
			UserVerified: cred.Flags.UserVerified, BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
			FriendlyName: name, Now: s.now(),
		})
		if database.IsUniqueViolation(err, "passkeys_credential_id_key") {
			return errPasskeyTaken
		}
		if err != nil {
			return err
		}
		if !hadFactor {
			if out.codes, err = s.replaceRecoveryCodes(ctx, q, me.user.ID); err != nil {
				return err
			}
		}
		if err := s.recordSecurityEvent(ctx, q, me.user.ID, evPasskeyAdded, &me.sessionID); err != nil {
			return err
		}
		return s.noticeMail(ctx, q, mail.KindPasskeyAdded, me.user.ID, me.user.Email)
	})
	switch {
	case errors.Is(err, errCeremonyVoid) || (err == nil && out.void):
		return api.RegisterPasskey400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: voidPasskeyChallenge(ctx)}, nil
	case errors.Is(err, errPasskeyLimit):
		return api.RegisterPasskey409ApplicationProblemPlusJSONResponse{FactorConflictApplicationProblemPlusJSONResponse: passkeyLimit(ctx)}, nil
	case errors.Is(err, errPasskeyTaken):
		return api.RegisterPasskey422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: refusedPasskey(ctx, "This passkey is registered already.")}, nil
	case err != nil:
		return nil, err
	case out.refused != "":
		return api.RegisterPasskey422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: refusedPasskey(ctx, out.refused)}, nil
	}
	s.metrics.Factors.WithLabelValues("passkey_added").Inc()
	added := api.PasskeyAdded{Passkey: passkeyJSON(out.passkey)}
	if out.codes != nil {
		added.RecoveryCodes = &out.codes
	}
	return api.RegisterPasskey201JSONResponse(added), nil
}

// passkeyRefusal is a short reason for a response go-webauthn refused,
// without the library's details (hashes, expected values).
func passkeyRefusal(err error) string {
	var perr *protocol.Error
	if !errors.As(err, &perr) {
		return "The passkey response does not verify."
	}
	what := strings.ToLower(perr.Details + " " + perr.DevInfo)
	switch {
	case strings.Contains(what, "origin"):
		return "The response comes from an origin this service does not accept."
	case strings.Contains(what, "rp hash"):
		return "The passkey is for another relying party."
	case strings.Contains(what, "user verification"):
		return "The authenticator did not verify the user (a PIN or biometrics are required)."
	case strings.Contains(what, "user presence"):
		return "The authenticator did not confirm the user's presence."
	case strings.Contains(what, "ceremony type"):
		return "The response is not a registration response."
	case strings.Contains(what, "challenge"):
		return "The response answers another challenge."
	case perr.Type == protocol.ErrBadRequest.Type || perr.Type == protocol.ErrParsingData.Type:
		return "The credential is malformed."
	}
	return "The passkey response does not verify."
}

// ListPasskeys implements api.StrictServerInterface: the caller's passkeys,
// oldest first.
func (s *Server) ListPasskeys(ctx context.Context, _ api.ListPasskeysRequestObject) (api.ListPasskeysResponseObject, error) {
	rows, err := s.db.Queries().ListPasskeys(ctx, caller(ctx).user.ID)
	if err != nil {
		return nil, err
	}
	list := api.PasskeyList{Passkeys: make([]api.Passkey, len(rows))}
	for i, pk := range rows {
		list.Passkeys[i] = passkeyJSON(pk)
	}
	return api.ListPasskeys200JSONResponse(list), nil
}

// RenamePasskey implements api.StrictServerInterface: a new friendly name
// for one of the caller's passkeys; others' are not found.
func (s *Server) RenamePasskey(ctx context.Context, req api.RenamePasskeyRequestObject) (api.RenamePasskeyResponseObject, error) {
	pk, err := s.db.Queries().RenamePasskey(ctx, db.RenamePasskeyParams{ID: req.Id, UserID: caller(ctx).user.ID, FriendlyName: req.Body.FriendlyName})
	switch {
	case errors.Is(err, database.ErrNotFound):
		return api.RenamePasskey404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such passkey.")}, nil
	case err != nil:
		return nil, err
	}
	return api.RenamePasskey200JSONResponse(passkeyJSON(pk)), nil
}

// DeletePasskey implements api.StrictServerInterface (behind step-up): one
// of the caller's passkeys goes, after the password is checked again (when
// the account has one). The user row is locked first, as every factor
// change locks it, so that of concurrent removals the last one sees no
// factor left and voids the recovery codes, and an account without a
// password keeps a way to log in (keepLoginMethod). Recorded
// (passkey_removed) and mailed.
func (s *Server) DeletePasskey(ctx context.Context, req api.DeletePasskeyRequestObject) (api.DeletePasskeyResponseObject, error) {
	me := caller(ctx)
	ok, err := s.checkCurrentPassword(ctx, req.Body.CurrentPassword)
	var wait *refusal
	switch {
	case errors.As(err, &wait):
		return api.DeletePasskey429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case errors.Is(err, errCurrentPasswordRequired):
		return api.DeletePasskey422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: currentPasswordRequired(ctx)}, nil
	case err != nil:
		return nil, err
	case !ok:
		return api.DeletePasskey403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: wrongCurrentPassword(ctx)}, nil
	}
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		if err := lockFactorsOf(ctx, q, me.user.ID); err != nil {
			return err
		}
		n, err := q.DeletePasskey(ctx, db.DeletePasskeyParams{ID: req.Id, UserID: me.user.ID})
		if err != nil {
			return err
		}
		if n == 0 {
			return database.ErrNotFound
		}
		if err := keepLoginMethod(ctx, q, me.user.ID); err != nil {
			return err
		}
		if err := s.dropCodesWithoutFactor(ctx, q, me.user.ID); err != nil {
			return err
		}
		if err := s.recordSecurityEvent(ctx, q, me.user.ID, evPasskeyRemoved, &me.sessionID); err != nil {
			return err
		}
		return s.noticeMail(ctx, q, mail.KindPasskeyRemoved, me.user.ID, me.user.Email)
	})
	switch {
	case errors.Is(err, database.ErrNotFound):
		return api.DeletePasskey404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such passkey.")}, nil
	case errors.Is(err, errLastLoginMethod):
		return api.DeletePasskey409ApplicationProblemPlusJSONResponse{LastLoginMethodApplicationProblemPlusJSONResponse: lastLoginMethod(ctx)}, nil
	case err != nil:
		return nil, err
	}
	s.metrics.Factors.WithLabelValues("passkey_removed").Inc()
	return api.DeletePasskey204Response{}, nil
}
