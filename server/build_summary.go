package server

// SigningKeyID is the id of the key that signs new tokens, for the start-up
// line: what a rolling key rotation must agree on.
func (s *Server) SigningKeyID() string { return s.keys.Signer() }
