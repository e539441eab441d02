package main

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
)

// admin serves the endpoints tests use to change the provider while it
// runs, for callers that present token as a bearer token:
// PUT /testing/users (a User, added or replacing the one with its subject)
// and PUT /testing/behaviour (a Behaviour, replacing the current one).
func admin(s *storage, token string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /testing/users", func(w http.ResponseWriter, r *http.Request) {
		var u User
		if !decode(w, r, &u) {
			return
		}
		if err := u.validate(); err != nil {
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
			return
		}
		s.setUser(u)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("PUT /testing/behaviour", func(w http.ResponseWriter, r *http.Request) {
		var b Behaviour
		if !decode(w, r, &b) {
			return
		}
		s.setBehaviour(b)
		w.WriteHeader(http.StatusNoContent)
	})
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			http.Error(w, "admin token required", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func decode(w http.ResponseWriter, r *http.Request, into any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}
