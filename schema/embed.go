// Package schema embeds the numbered migrations so the binary carries them;
// sqlc reads the same files to generate gen/db.
package schema

import "embed"

// FS holds every migration, in goose's annotated SQL format.
//
//go:embed *.sql
var FS embed.FS
