package server

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/authd/authd/gen/api"
)

// validationProblem turns the request validator's findings into one problem.
// Shape errors (400) win over rule errors (422); authentication failures
// never get here, authenticate answered them before validation.
func (s *Server) validationProblem(me openapi3.MultiError) *problemError {
	var shape, rules []api.FieldError
	for _, err := range me {
		var re *openapi3filter.RequestError
		if !errors.As(err, &re) {
			return &problemError{typ: typeInternal, detail: "An unexpected error occurred.", cause: err}
		}
		var schemaErrs []*openapi3.SchemaError
		collectSchemaErrors(re.Err, &schemaErrs)
		if len(schemaErrs) == 0 {
			shape = append(shape, api.FieldError{Field: "", Message: requestErrorMessage(re)})
			continue
		}
		for _, se := range schemaErrs {
			fe := api.FieldError{Field: fieldOf(se), Message: se.Reason}
			switch se.SchemaField {
			case "type", "nullable":
				shape = append(shape, fe)
			case "properties", "additionalProperties":
				// an unknown field: name it, like a missing one is named
				var name string
				if _, err := fmt.Sscanf(se.Reason, "property %q is unsupported", &name); err == nil {
					fe.Field = strings.TrimPrefix(fe.Field+"."+name, ".")
				}
				fe.Message = unknownFieldMessage(se.Schema)
				shape = append(shape, fe)
			default:
				fe.Message = ruleMessage(se)
				rules = append(rules, fe)
			}
		}
	}
	if len(shape) > 0 {
		return &problemError{typ: typeBadRequest, detail: joinMessages(shape), errors: shape}
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Field < rules[j].Field })
	detail := fmt.Sprintf("%d fields are invalid.", len(rules))
	if len(rules) == 1 {
		detail = "1 field is invalid."
	}
	return &problemError{typ: typeValidation, detail: detail, errors: rules}
}

// formatReason matches kin-openapi's wording around our own format messages.
var formatReason = regexp.MustCompile(`^string doesn't match the format "[^"]*"(?: \((.*)\)|: (.*))$`)

// ruleMessage words a rule violation for people, using the spec's numbers.
func ruleMessage(se *openapi3.SchemaError) string {
	switch se.SchemaField {
	case "required":
		return "is required"
	case "minLength":
		return fmt.Sprintf("must be at least %d characters", se.Schema.MinLength)
	case "maxLength":
		if se.Schema.MaxLength != nil {
			return fmt.Sprintf("must be at most %d characters", *se.Schema.MaxLength)
		}
	case "minProperties":
		return "name at least one field to change"
	case "format":
		if m := formatReason.FindStringSubmatch(se.Reason); m != nil {
			return m[1] + m[2]
		}
	}
	return se.Reason
}

// unknownFieldMessage names the fields the object takes, so a client that
// guessed a name learns the right one.
func unknownFieldMessage(object *openapi3.Schema) string {
	if object == nil || len(object.Properties) == 0 {
		return "unknown field"
	}
	names := make([]string, 0, len(object.Properties))
	for name := range object.Properties {
		names = append(names, name)
	}
	sort.Strings(names)
	return "unknown field; expected " + strings.Join(names, ", ")
}

func collectSchemaErrors(err error, out *[]*openapi3.SchemaError) {
	var me openapi3.MultiError
	var se *openapi3.SchemaError
	switch {
	case errors.As(err, &me):
		for _, e := range me {
			collectSchemaErrors(e, out)
		}
	case errors.As(err, &se):
		*out = append(*out, se)
	}
}

// fieldOf names the failing field: the JSON pointer of the value, or for a
// missing or unknown property, that property.
func fieldOf(se *openapi3.SchemaError) string {
	return strings.Join(se.JSONPointer(), ".")
}

func requestErrorMessage(re *openapi3filter.RequestError) string {
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return "a request body is required"
	case strings.HasPrefix(re.Reason, "header Content-Type has unexpected value"):
		return "Content-Type must be application/json"
	case re.Reason != "":
		return re.Reason
	default:
		return "the request is not valid"
	}
}

func joinMessages(fes []api.FieldError) string {
	parts := make([]string, len(fes))
	for i, fe := range fes {
		if fe.Field == "" {
			parts[i] = fe.Message
		} else {
			parts[i] = fe.Field + ": " + fe.Message
		}
	}
	return strings.Join(parts, "; ")
}
