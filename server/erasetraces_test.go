package server_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/server/testkit"
)

// traces are what names a person in the database: ids (the user's and
// those of the user's rows) and text (the addresses).
type traces struct {
	ids   []uuid.UUID
	texts []string
}

// idsOfUser is userID and the id of every row of every table with a user_id
// column that belongs to the user, and the ids of the user's refresh tokens
// (which reach the user through a session): whatever still holds one of
// them after an erasure names the user.
func idsOfUser(t *testing.T, app *testkit.App, userID uuid.UUID) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	pool := app.Deps.DB.Pool()
	rows, err := pool.Query(ctx, `
		SELECT c.table_name FROM information_schema.columns c
		JOIN information_schema.columns id ON id.table_schema = c.table_schema AND id.table_name = c.table_name
		  AND id.column_name = 'id' AND id.data_type = 'uuid'
		JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name AND tb.table_type = 'BASE TABLE'
		WHERE c.table_schema = current_schema() AND c.column_name = 'user_id' AND c.data_type = 'uuid'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	queries := []string{`SELECT refresh_tokens.id FROM refresh_tokens JOIN sessions ON sessions.id = session_id WHERE user_id = $1`}
	for _, table := range tables {
		queries = append(queries, `SELECT id FROM `+pgx.Identifier{table}.Sanitize()+` WHERE user_id = $1`)
	}
	ids := []uuid.UUID{userID}
	for _, q := range queries {
		rows, err := pool.Query(ctx, q, userID)
		if err != nil {
			t.Fatal(err)
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, found...)
	}
	return ids
}

// findTraces looks through every column of every table that can hold an
// id or text (uuid, text, varchar, citext, json, arrays of them, bytea) and
// returns "table.column" with the number of rows holding one of tr: an id
// as a uuid, in text (with or without dashes, so 'admin:<id>' is found) or
// as raw bytes (a WebAuthn user handle), a text in any case.
func findTraces(t *testing.T, app *testkit.App, tr traces) map[string]int {
	t.Helper()
	ctx := context.Background()
	pool := app.Deps.DB.Pool()
	texts := slices.Clone(tr.texts)
	var raw [][]byte
	for _, id := range tr.ids {
		texts = append(texts, id.String(), hex.EncodeToString(id[:]))
		raw = append(raw, id[:], []byte(id.String()))
	}
	for _, s := range tr.texts {
		raw = append(raw, []byte(s))
	}
	rows, err := pool.Query(ctx, `
		SELECT c.table_name, c.column_name, c.data_type, c.udt_name FROM information_schema.columns c
		JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name AND tb.table_type = 'BASE TABLE'
		WHERE c.table_schema = current_schema() ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	type column struct{ Table, Name, DataType, Udt string }
	columns, err := pgx.CollectRows(rows, pgx.RowToStructByPos[column])
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	scanned := 0
	for _, c := range columns {
		col := pgx.Identifier{c.Name}.Sanitize()
		var where string
		var arg any
		switch {
		case c.DataType == "uuid":
			where, arg = col+` = ANY($1::uuid[])`, tr.ids
		case c.DataType == "bytea":
			where, arg = `EXISTS (SELECT 1 FROM unnest($1::bytea[]) n WHERE position(n IN `+col+`) > 0)`, raw
		case slices.Contains([]string{"text", "character varying", "character", "json", "jsonb", "ARRAY"}, c.DataType) || c.Udt == "citext":
			where, arg = `EXISTS (SELECT 1 FROM unnest($1::text[]) n WHERE strpos(lower(`+col+`::text), lower(n)) > 0)`, texts
		default:
			continue // numbers, times, booleans, inet: no name in them
		}
		scanned++
		var n int
		q := fmt.Sprintf(`SELECT count(*) FROM %s WHERE %s`, pgx.Identifier{c.Table}.Sanitize(), where)
		if err := pool.QueryRow(ctx, q, arg).Scan(&n); err != nil {
			t.Fatalf("%s.%s: %v", c.Table, c.Name, err)
		}
		if n > 0 {
			found[c.Table+"."+c.Name] = n
		}
	}
	if scanned < 50 {
		t.Fatalf("only %d columns scanned: is information_schema read in the right schema?", scanned)
	}
	return found
}

// tablesOf is the tables of found ("table.column" keys), sorted.
func tablesOf(found map[string]int) []string {
	var tables []string
	for k := range found {
		table, _, _ := strings.Cut(k, ".")
		if !slices.Contains(tables, table) {
			tables = append(tables, table)
		}
	}
	slices.Sort(tables)
	return tables
}

// tablesReferencingUsers is every table with a foreign key to users.
func tablesReferencingUsers(t *testing.T, app *testkit.App) []string {
	t.Helper()
	rows, err := app.Deps.DB.Pool().Query(context.Background(),
		`SELECT DISTINCT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' AND confrelid = 'users'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return tables
}
