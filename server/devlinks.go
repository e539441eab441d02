package server

import (
	"bytes"
	"crypto/sha256"
	_ "embed" // the development link pages
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/labstack/echo/v4"
)

// Development link pages: in development the mail links
// ({public_url}/{action}?token=...) point at authd itself, where no frontend
// answers. These pages stand in for one: a form that sends the link's token
// to the API with fetch(). They are outside the spec (like /docs), and only
// registered when HTTPOptions.DevLinkPages is set (AUTHD_ENV=development).

var (
	//go:embed devlinks.html
	devLinkHTML string
	//go:embed devlinks.js
	devLinkJS string
	// devLinkPage is parsed once; Execute only fills in authd's own text.
	devLinkPage = template.Must(template.New("devlink").Parse(devLinkHTML))
)

// devLinkCSP lets the page run its one inline script (by hash) and talk to
// authd alone; no other origin sees the token, not even as a referrer.
var devLinkCSP = func() string {
	sum := sha256.Sum256([]byte(devLinkJS))
	return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
}()

// devLinkField is one input of a page; an input named access_token is sent
// as the bearer token, every other one as a field of the JSON body.
type devLinkField struct{ Name, Label, Type, Autocomplete string }

// devLink is the page for one link action.
type devLink struct {
	Action, Title, API, Submit, Note string
	Fields                           []devLinkField
	Script                           template.JS
}

// devLinks are the pages for the actions link() builds.
func devLinks() []devLink {
	script := template.JS(devLinkJS) //nolint:gosec // G203: authd's own embedded script, never input
	return []devLink{
		{
			Action: "verify-email", Title: "Verify your email", API: "/auth/verify-email", Submit: "Verify",
			Fields: []devLinkField{{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password"}},
			Note:   "For a new registration this password becomes the account's; for an existing account it must be the account's password.",
			Script: script,
		},
		{
			Action: "reset-password", Title: "Choose a new password", API: "/auth/password/reset", Submit: "Reset password",
			Fields: []devLinkField{{Name: "new_password", Label: "New password", Type: "password", Autocomplete: "new-password"}},
			Script: script,
		},
		{
			Action: "confirm-email", Title: "Confirm your new email", API: "/auth/email/confirm", Submit: "Confirm",
			Fields: []devLinkField{{Name: "access_token", Label: "Access token of the account that asked for the change", Type: "password", Autocomplete: "off"}},
			Note:   "Paste an access token (from POST /auth/login) of the account that asked for the change; /docs can send the same request.",
			Script: script,
		},
	}
}

// registerDevLinks serves each development link page at its action's path,
// rendered once.
func registerDevLinks(e *echo.Echo) error {
	for _, page := range devLinks() {
		var buf bytes.Buffer
		if err := devLinkPage.Execute(&buf, page); err != nil {
			return err
		}
		body := buf.Bytes()
		e.GET("/"+page.Action, func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", devLinkCSP)
			h.Set("Cache-Control", "no-store")
			return c.HTMLBlob(http.StatusOK, body)
		})
	}
	return nil
}
