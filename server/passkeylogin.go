package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/api"
)

// PasskeyLoginOptions implements api.StrictServerInterface. TODO(feat/passkeylogin).
func (s *Server) PasskeyLoginOptions(ctx context.Context, req api.PasskeyLoginOptionsRequestObject) (api.PasskeyLoginOptionsResponseObject, error) {
	return nil, errors.New("not implemented")
}

// PasskeyLogin implements api.StrictServerInterface. TODO(feat/passkeylogin).
func (s *Server) PasskeyLogin(ctx context.Context, req api.PasskeyLoginRequestObject) (api.PasskeyLoginResponseObject, error) {
	return nil, errors.New("not implemented")
}

// MfaPasskeyOptions implements api.StrictServerInterface. TODO(feat/passkeylogin).
func (s *Server) MfaPasskeyOptions(ctx context.Context, req api.MfaPasskeyOptionsRequestObject) (api.MfaPasskeyOptionsResponseObject, error) {
	return nil, errors.New("not implemented")
}

// StepUpPasskeyOptions implements api.StrictServerInterface. TODO(feat/passkeylogin).
func (s *Server) StepUpPasskeyOptions(ctx context.Context, req api.StepUpPasskeyOptionsRequestObject) (api.StepUpPasskeyOptionsResponseObject, error) {
	return nil, errors.New("not implemented")
}
