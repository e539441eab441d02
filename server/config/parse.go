package config

import (
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/authd/authd/server/ratelimit"
)

// parse fills a Config from environ. A variable that does not parse is
// reported once, by its name, with the value given and what is allowed; its
// field keeps the default so that no check reports the zero value nobody set.
// The returned names are the variables that did not parse.
func parse(environ map[string]string) (Config, []error, map[string]bool) {
	var cfg Config
	err := env.ParseWithOptions(&cfg, env.Options{Environment: environ})
	if err == nil {
		return cfg, nil, nil
	}
	var errs []error
	failed := map[string]bool{}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return cfg, []error{err}, nil
	}
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			errs = append(errs, e)
			continue
		}
		name := envName(pe.Name)
		if name == "" { // not one of ours: keep the library's words
			errs = append(errs, e)
			continue
		}
		failed[name] = true
		errs = append(errs, fmt.Errorf("%s: %q is not %s", name, displayValue(name, environ[name]), allowedForm(pe.Type)))
	}
	// Parse again without the bad values: their fields get their defaults.
	rest := make(map[string]string, len(environ))
	for k, v := range environ {
		if !failed[k] {
			rest[k] = v
		}
	}
	var again Config
	if err := env.ParseWithOptions(&again, env.Options{Environment: rest}); err != nil {
		return cfg, append(errs, err), failed
	}
	return again, errs, failed
}

// envName is the variable behind the Config field named field.
func envName(field string) string {
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	if !ok {
		return ""
	}
	return f.Tag.Get("env")
}

// allowedForm says, for a field of type t, what a value must look like.
func allowedForm(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[time.Duration]():
		return "a duration with a unit, like 30s, 15m or 1h30m"
	case reflect.TypeFor[ratelimit.Limit]():
		return "a limit like 10/1m (events per period, at least 1 per 1s)"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean (true or false)"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a whole number from 0 to %d", uint64(1)<<t.Bits()-1)
	default:
		return "a valid " + t.String()
	}
}
