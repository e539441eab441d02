package database

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrNotFound means the statement found no row: an answer, not a failure.
// It is the one translation of pgx.ErrNoRows, made where every statement
// leaves the resilient DBTX, so that callers need not know the driver.
var ErrNotFound = errors.New("database: no row found")

// interpretError translates the driver's answers that callers test for into
// errors of this package; every other error passes unchanged.
func interpretError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// IsUniqueViolation reports whether err is a unique violation of constraint.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == constraint
}

// IsTransient reports whether err is a serialization failure or a deadlock:
// the database refused this attempt, and a retry may succeed.
func IsTransient(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}
