package main

import (
	"net/http"
	"net/url"
)

// The op package sends no `iss` on authorization responses (RFC 9207). When
// the behaviour asks for it, withIssParameter adds it to every redirect to a
// client's registered redirect URI: the code and the error responses alike.
func withIssParameter(s *storage, issuer string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := s.currentBehaviour()
		if !b.SendIssParameter {
			next.ServeHTTP(w, r)
			return
		}
		iss := issuer
		if b.IssParameterValue != "" {
			iss = b.IssParameterValue
		}
		next.ServeHTTP(&issWriter{ResponseWriter: w, storage: s, iss: iss}, r)
	})
}

// issWriter rewrites Location as the response's status is written, which is
// after http.Redirect has set it.
type issWriter struct {
	http.ResponseWriter
	storage *storage
	iss     string
}

func (w *issWriter) WriteHeader(status int) {
	if status >= 300 && status < 400 {
		if loc, err := url.Parse(w.Header().Get("Location")); err == nil && w.storage.isRedirectURI(loc) {
			q := loc.Query()
			q.Set("iss", w.iss)
			loc.RawQuery = q.Encode()
			w.Header().Set("Location", loc.String())
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *issWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isRedirectURI reports whether loc, without its query, is a redirect URI
// registered by a client.
func (s *storage) isRedirectURI(loc *url.URL) bool {
	target := withoutQuery(loc)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		for _, raw := range c.RedirectURIs {
			if u, err := url.Parse(raw); err == nil && withoutQuery(u) == target {
				return true
			}
		}
	}
	return false
}

func withoutQuery(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment, c.RawFragment = "", "", ""
	return c.String()
}
