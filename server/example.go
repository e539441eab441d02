package server

import (
	"net/http"
	"os"
	"path/filepath"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/server/config"
)

// The example page (examples/web): a static page that registers, logs in,
// enrols TOTP and passkeys through the TypeScript client. Its build (`make
// example`, esbuild) is not committed, so authd cannot embed it: in
// development it serves the directory AUTHD_EXAMPLE_DIR at /example/, like
// the development link pages outside the spec. Production serves nothing
// there, whatever the variable says.

// exampleCSP lets the page load its own script and stylesheet, show the QR
// code (a data: URI) and call authd, and nothing else.
const exampleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src data:; connect-src 'self'; " +
	"form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// exampleDir is the directory to serve at /example/: development only.
func exampleDir(cfg config.Config) string {
	if !cfg.Development() {
		return ""
	}
	return cfg.ExampleDir
}

// registerExample serves dir at /example/. A missing build is logged once
// (its pages answer 404), not fatal: authd runs in development without it.
func (s *Server) registerExample(e *echo.Echo, dir string) {
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		s.log.Warn("the example page is not built: run `make example` to serve it at /example/", "dir", dir)
	}
	files := http.StripPrefix("/example/", http.FileServer(http.Dir(dir)))
	e.GET("/example", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, "/example/")
	})
	e.GET("/example/*", func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", exampleCSP)
		h.Set("Cache-Control", "no-store")
		files.ServeHTTP(c.Response(), c.Request())
		return nil
	})
}
