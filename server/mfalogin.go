package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// secondStep decides whether a login whose password was right must pass a
// second factor (or enrol one): done is true when res is that answer.
// TODO(feat/mfalogin).
func (s *Server) secondStep(ctx context.Context, u db.User) (res api.LoginResponseObject, done bool, err error) {
	return nil, false, nil
}

// VerifyMfa implements api.StrictServerInterface. TODO(feat/mfalogin).
func (s *Server) VerifyMfa(ctx context.Context, req api.VerifyMfaRequestObject) (api.VerifyMfaResponseObject, error) {
	return nil, errors.New("not implemented")
}

// EnrollMfaTotp implements api.StrictServerInterface. TODO(feat/mfalogin).
func (s *Server) EnrollMfaTotp(ctx context.Context, req api.EnrollMfaTotpRequestObject) (api.EnrollMfaTotpResponseObject, error) {
	return nil, errors.New("not implemented")
}
