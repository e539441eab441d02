package testkit

import (
	"context"
	"crypto/rand"
	"net/http"
	"strings"

	"github.com/authd/authd/gen/client"
)

// Password is a password every default policy accepts.
const Password = "Correct-Horse-7"

// UniqueEmail returns an address no other test uses.
func UniqueEmail() string {
	return "u-" + strings.ToLower(rand.Text()[:12]) + "@example.com"
}

// Bearer sends tok as the request's bearer token.
func Bearer(tok string) client.RequestEditorFn { return Header("Authorization", "Bearer "+tok) }

// Header sets one request header.
func Header(name, value string) client.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set(name, value)
		return nil
	}
}

// Register creates a user and fails the test unless it got a 201.
func (a *App) Register(t T, email, password string) client.User {
	t.Helper()
	resp, err := a.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON201 == nil {
		t.Fatalf("register %s: status %d: %s", email, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON201
}

// Login logs in and fails the test unless it got a token pair.
func (a *App) Login(t T, email, password string) client.TokenPair {
	t.Helper()
	resp, err := a.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil {
		t.Fatalf("login %s: status %d: %s", email, resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// NewUser registers a fresh user with Password and logs it in.
func (a *App) NewUser(t T) (client.User, client.TokenPair) {
	t.Helper()
	email := UniqueEmail()
	u := a.Register(t, email, Password)
	return u, a.Login(t, email, Password)
}

// RegisterBody is a valid registration for a new address.
func RegisterBody() client.RegisterRequest {
	return client.RegisterRequest{Email: UniqueEmail(), Password: Password}
}

// LoginBody is a login for email with Password.
func LoginBody(email string) client.LoginRequest {
	return client.LoginRequest{Email: email, Password: Password}
}

// From makes the request come from ip, as a trusted proxy would report it.
func From(ip string) client.RequestEditorFn { return Header("X-Forwarded-For", ip) }
