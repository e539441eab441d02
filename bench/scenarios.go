package main

import "fmt"

// scenario is one request authd is measured on, at a stated concurrency.
// make bench and make bench-compare measure the same ones.
type scenario struct {
	name    string
	workers int
	// prepare readies the request on one authd (its own sessions and
	// tokens, so that two builds measured side by side share nothing).
	prepare func(a *authd, users []user, workers int) (func(int) error, error)
}

var scenarios = []scenario{
	{"register", 4, func(a *authd, _ []user, _ int) (func(int) error, error) { return a.register, nil }},
	{"login", 4, func(a *authd, users []user, _ int) (func(int) error, error) { return a.loginAs(users), nil }},
	{"refresh", 8, func(a *authd, users []user, workers int) (func(int) error, error) {
		return a.refreshChains(users, workers)
	}},
	{"users/me", 16, func(a *authd, users []user, _ int) (func(int) error, error) {
		// A token of its own: the seeded ones may be near their expiry
		// after minutes of other scenarios.
		pair, err := a.login(users[0].email)
		return a.get("/users/me", pair.AccessToken), err
	}},
	{"jwks", 16, func(a *authd, _ []user, _ int) (func(int) error, error) {
		return a.get("/.well-known/jwks.json", ""), nil
	}},
}

// loadOf is the named scenario's load on a.
func loadOf(name string, a *authd, users []user) (load, error) {
	for _, s := range scenarios {
		if s.name == name {
			op, err := s.prepare(a, users, s.workers)
			return load{s.workers, op}, err
		}
	}
	return load{}, fmt.Errorf("no scenario %q", name)
}
