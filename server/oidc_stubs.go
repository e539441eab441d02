package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/api"
)

// Placeholders of the issue 17 foundation; each is replaced by its handler.
var errNotYet = errors.New("not implemented yet")

func (s *Server) ListProviders(context.Context, api.ListProvidersRequestObject) (api.ListProvidersResponseObject, error) {
	return nil, errNotYet
}

func (s *Server) OidcAuthorize(context.Context, api.OidcAuthorizeRequestObject) (api.OidcAuthorizeResponseObject, error) {
	return nil, errNotYet
}

func (s *Server) OidcCallback(context.Context, api.OidcCallbackRequestObject) (api.OidcCallbackResponseObject, error) {
	return nil, errNotYet
}

func (s *Server) OidcToken(context.Context, api.OidcTokenRequestObject) (api.OidcTokenResponseObject, error) {
	return nil, errNotYet
}

func (s *Server) CompleteIdentityLink(context.Context, api.CompleteIdentityLinkRequestObject) (api.CompleteIdentityLinkResponseObject, error) {
	return nil, errNotYet
}

func (s *Server) StartIdentityLink(context.Context, api.StartIdentityLinkRequestObject) (api.StartIdentityLinkResponseObject, error) {
	return nil, errNotYet
}
