package main

import (
	"context"
	"html/template"
	"log/slog"
	"net/http"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// loginPage is the provider's sign-in page. Tests fill it by a plain form
// POST (testkit.Browser) or click it in Chromium, so it has stable ids.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in - test OpenID provider</title></head>
<body>
<h1>Sign in</h1>
{{if .Error}}<p id="error" class="error">{{.Error}}</p>{{end}}
<form id="login" method="post" action="/login">
  <input type="hidden" name="id" value="{{.ID}}">
  <label>Username <input id="username" name="username" type="text" autocomplete="username" value="{{.Username}}" autofocus></label>
  <label>Password <input id="password" name="password" type="password" autocomplete="current-password"></label>
  <button id="submit" type="submit" name="action" value="login">Sign in</button>
  <button id="cancel" type="submit" name="action" value="cancel">Cancel</button>
</form>
</body>
</html>
`))

type loginData struct{ ID, Username, Error string }

// login serves /login: the form (GET) and its answer (POST). A good
// password completes the request and continues at the op's callback, which
// redirects to the client with a code; Cancel answers access_denied.
type login struct {
	storage  *storage
	provider *op.Provider
	callback func(ctx context.Context, id string) string
}

func (l *login) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "cannot parse the form", http.StatusBadRequest)
		return
	}
	id := r.Form.Get("id")
	req, ok := l.storage.pendingRequest(id)
	if !ok {
		http.Error(w, "unknown or expired sign-in request", http.StatusBadRequest)
		return
	}
	switch r.Method {
	case http.MethodGet:
		render(w, http.StatusOK, loginData{ID: id})
	case http.MethodPost:
		if r.PostForm.Get("action") == "cancel" {
			op.AuthRequestError(w, r, req, oidc.ErrAccessDenied().WithDescription("the user cancelled"), l.provider)
			return
		}
		username := r.PostForm.Get("username")
		if !l.storage.signIn(id, username, r.PostForm.Get("password")) {
			render(w, http.StatusOK, loginData{ID: id, Username: username, Error: "Wrong username or password."})
			return
		}
		http.Redirect(w, r, l.callback(r.Context(), id), http.StatusFound)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func render(w http.ResponseWriter, status int, d loginData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := loginPage.Execute(w, d); err != nil {
		slog.Error("render the login page", "error", err)
	}
}
