// Package mail renders account mail from templates and delivers the outbox:
// workers claim due messages, send them over SMTP (or to the log in
// development), retry with backoff and park what keeps failing.
package mail

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"strings"
	texttemplate "text/template"
)

// Kinds of mail; each has a subject, a text and an HTML template.
const (
	KindVerifyEmail          = "verify_email"
	KindAlreadyRegistered    = "already_registered"
	KindPasswordReset        = "password_reset"
	KindEmailChangeConfirm   = "email_change_confirm"
	KindEmailChangeNotice    = "email_change_notice"
	KindEmailTaken           = "email_taken"
	KindFactorAdded          = "mfa_factor_added"
	KindFactorRemoved        = "mfa_factor_removed"
	KindRecoveryCodeUsed     = "mfa_recovery_code_used"
	KindRecoveryCodesRenewed = "mfa_recovery_codes_regenerated"
	KindPasskeyAdded         = "mfa_passkey_added"   //nolint:gosec // G101: a mail kind, not a credential
	KindPasskeyRemoved       = "mfa_passkey_removed" //nolint:gosec // G101: a mail kind, not a credential
	KindInvitation           = "invitation"          // an account an admin created: a link to set its password
	KindIdentityUnlinked     = "identity_unlinked"
	KindIdentityLinked       = "identity_linked"
)

var kinds = []string{KindVerifyEmail, KindAlreadyRegistered, KindPasswordReset, KindEmailChangeConfirm, KindEmailChangeNotice, KindEmailTaken,
	KindFactorAdded, KindFactorRemoved, KindRecoveryCodeUsed, KindRecoveryCodesRenewed, KindPasskeyAdded, KindPasskeyRemoved,
	KindIdentityUnlinked, KindIdentityLinked, KindInvitation}

//go:embed templates
var defaultTemplates embed.FS

// Data fills a template. A mail carries only its recipient's own address
// (Email, or NewEmail in the confirmation sent to it), never one that
// someone else typed: that text would read as if authd said it.
type Data struct {
	Email     string // the recipient's address, as the account holds it
	NewEmail  string // email_change_confirm and email_taken: the recipient's address
	Link      string // the action link, with its token
	ExpiresIn string // how long the link works, e.g. "24 hours"
	Provider  string // identity notices: the provider's display name, as configured
}

// Rendered is a message ready for the outbox.
type Rendered struct {
	Subject, Text, HTML string
}

// Renderer holds the parsed templates of every kind.
type Renderer struct {
	subject map[string]*texttemplate.Template
	text    map[string]*texttemplate.Template
	html    map[string]*htmltemplate.Template
}

// NewRenderer parses the built-in templates; a file of the same name in dir
// (<kind>.subject, <kind>.txt, <kind>.html), when dir is set, replaces one.
func NewRenderer(dir string) (*Renderer, error) {
	builtin, _ := fs.Sub(defaultTemplates, "templates")
	read := func(name string) (string, error) {
		if dir != "" {
			// dir is the operator's AUTHD_MAIL_TEMPLATES_DIR; name is one of ours.
			if b, err := os.ReadFile(dir + "/" + name); err == nil { //nolint:gosec // G304: both parts are trusted, see above
				return string(b), nil
			} else if !os.IsNotExist(err) {
				return "", err
			}
		}
		b, err := fs.ReadFile(builtin, name)
		return string(b), err
	}
	r := &Renderer{subject: map[string]*texttemplate.Template{}, text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, k := range kinds {
		subj, err1 := read(k + ".subject")
		txt, err2 := read(k + ".txt")
		html, err3 := read(k + ".html")
		if err := firstErr(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("mail template %s: %w", k, err)
		}
		var err error
		strict := texttemplate.New(k).Option("missingkey=error")
		if r.subject[k], err = strict.New(k + ".subject").Parse(strings.TrimSpace(subj)); err != nil {
			return nil, err
		}
		if r.text[k], err = strict.New(k + ".txt").Parse(txt); err != nil {
			return nil, err
		}
		if r.html[k], err = htmltemplate.New(k + ".html").Option("missingkey=error").Parse(html); err != nil {
			return nil, err
		}
		// Render once now: a template naming a field that does not exist
		// fails at start, not later for one kind of request only.
		if _, err := r.Render(k, Data{Email: "a@example.com", NewEmail: "b@example.com", Link: "https://example.com/?token=t", ExpiresIn: "1 hour", Provider: "Example"}); err != nil {
			return nil, fmt.Errorf("mail template %s: %w", k, err)
		}
	}
	return r, nil
}

// Render fills the templates of kind.
func (r *Renderer) Render(kind string, d Data) (Rendered, error) {
	s, ok := r.subject[kind]
	if !ok {
		return Rendered{}, fmt.Errorf("unknown mail kind %q", kind)
	}
	var subj, txt, html bytes.Buffer
	if err := firstErr(s.Execute(&subj, d), r.text[kind].Execute(&txt, d), r.html[kind].Execute(&html, d)); err != nil {
		return Rendered{}, err
	}
	// A subject is one line, whatever a template or an address holds.
	subject := strings.Join(strings.Fields(subj.String()), " ")
	return Rendered{Subject: subject, Text: txt.String(), HTML: html.String()}, nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
