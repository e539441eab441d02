package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/api"
)

// Placeholders of the issue 17 foundation; each is replaced by its handler.
var errNotYet = errors.New("not implemented yet")

func (s *Server) ListIdentities(context.Context, api.ListIdentitiesRequestObject) (api.ListIdentitiesResponseObject, error) {
	return nil, errNotYet
}

func (s *Server) DeleteIdentity(context.Context, api.DeleteIdentityRequestObject) (api.DeleteIdentityResponseObject, error) {
	return nil, errNotYet
}
