package testkit

import (
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// htmlForm is a form of a page as a browser would submit it: its inputs
// (hidden ones included) and its submit buttons. Selects and text areas are
// left out: login forms do not have them.
type htmlForm struct {
	action, method string
	fields         []formField
	buttons        []formField
	hasPassword    bool
}

type formField struct{ name, kind, value string }

// findLoginForm is the first form of page with a password field, or nil.
func findLoginForm(page string) *htmlForm {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return nil
	}
	var found *htmlForm
	var walk func(n *html.Node, form *htmlForm)
	walk = func(n *html.Node, form *htmlForm) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				form = &htmlForm{action: attr(n, "action"), method: strings.ToUpper(attr(n, "method"))}
				if form.method != http.MethodPost {
					form.method = http.MethodGet
				}
				defer func() {
					if found == nil && form.hasPassword {
						found = form
					}
				}()
			case "input":
				form.addInput(n)
			case "button":
				if form != nil && (attr(n, "type") == "" || strings.EqualFold(attr(n, "type"), "submit")) {
					form.buttons = append(form.buttons, formField{name: attr(n, "name"), value: attr(n, "value")})
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, form)
		}
	}
	walk(doc, nil)
	return found
}

func (f *htmlForm) addInput(n *html.Node) {
	if f == nil {
		return
	}
	kind := strings.ToLower(attr(n, "type"))
	if kind == "" {
		kind = "text"
	}
	field := formField{name: attr(n, "name"), kind: kind, value: attr(n, "value")}
	switch kind {
	case "submit":
		f.buttons = append(f.buttons, field)
	case "checkbox", "radio":
		if hasAttr(n, "checked") && field.name != "" {
			f.fields = append(f.fields, field)
		}
	case "password":
		f.hasPassword = true
		f.fields = append(f.fields, field)
	default:
		if field.name != "" {
			f.fields = append(f.fields, field)
		}
	}
}

// filled is the form with username and password typed in and its first
// button pressed. The username goes to the field named "username", else to
// the first text or email field.
func (f *htmlForm) filled(username, password string) url.Values {
	userField := ""
	for _, fl := range f.fields {
		if fl.name == "username" {
			userField = fl.name
		}
	}
	for _, fl := range f.fields {
		if userField == "" && (fl.kind == "text" || fl.kind == "email") {
			userField = fl.name
		}
	}
	v := url.Values{}
	for _, fl := range f.fields {
		switch {
		case fl.kind == "password":
			v.Set(fl.name, password)
		case fl.name == userField:
			v.Set(fl.name, username)
		default:
			v.Add(fl.name, fl.value)
		}
	}
	if len(f.buttons) > 0 && f.buttons[0].name != "" {
		v.Set(f.buttons[0].name, f.buttons[0].value)
	}
	return v
}

// pressed is the form as it stands with the button whose value or name is
// button pressed, or nil when it has none.
func (f *htmlForm) pressed(button string) url.Values {
	for _, b := range f.buttons {
		if b.value == button || b.name == button {
			v := url.Values{}
			for _, fl := range f.fields {
				v.Add(fl.name, fl.value)
			}
			if b.name != "" {
				v.Set(b.name, b.value)
			}
			return v
		}
	}
	return nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}
