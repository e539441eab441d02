package main

import (
	"encoding/json"
	"net/http"
	"net/url"
)

// withClientAuthMethods refuses a token request whose client authenticates
// with a method it is not configured for. The op package accepts a secret
// in the Authorization header or in the form from any secret client.
func withClientAuthMethods(s *storage, tokenPath string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != tokenPath || r.ParseForm() != nil { // op answers a bad form
			next.ServeHTTP(w, r)
			return
		}
		var id, method string
		if user, _, ok := r.BasicAuth(); ok {
			id, _ = url.QueryUnescape(user) // RFC 6749 2.3.1: form-encoded
			method = authMethodBasic
		} else if r.PostForm.Has("client_secret") {
			id, method = r.PostForm.Get("client_id"), authMethodPost
		}
		if c, ok := s.clientFor(id); ok && method != "" && !c.allows(method) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{
				"error":             "invalid_client",
				"error_description": method + " is not allowed for this client",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}
