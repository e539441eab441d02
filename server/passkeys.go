package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/api"
)

// PasskeyRegistrationOptions implements api.StrictServerInterface. TODO(feat/passkeys).
func (s *Server) PasskeyRegistrationOptions(ctx context.Context, req api.PasskeyRegistrationOptionsRequestObject) (api.PasskeyRegistrationOptionsResponseObject, error) {
	return nil, errors.New("not implemented")
}

// RegisterPasskey implements api.StrictServerInterface. TODO(feat/passkeys).
func (s *Server) RegisterPasskey(ctx context.Context, req api.RegisterPasskeyRequestObject) (api.RegisterPasskeyResponseObject, error) {
	return nil, errors.New("not implemented")
}

// ListPasskeys implements api.StrictServerInterface. TODO(feat/passkeys).
func (s *Server) ListPasskeys(ctx context.Context, req api.ListPasskeysRequestObject) (api.ListPasskeysResponseObject, error) {
	return nil, errors.New("not implemented")
}

// RenamePasskey implements api.StrictServerInterface. TODO(feat/passkeys).
func (s *Server) RenamePasskey(ctx context.Context, req api.RenamePasskeyRequestObject) (api.RenamePasskeyResponseObject, error) {
	return nil, errors.New("not implemented")
}

// DeletePasskey implements api.StrictServerInterface. TODO(feat/passkeys).
func (s *Server) DeletePasskey(ctx context.Context, req api.DeletePasskeyRequestObject) (api.DeletePasskeyResponseObject, error) {
	return nil, errors.New("not implemented")
}
