package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/authd/authd/server/config"
)

// healthcheck asks the local authd (AUTHD_ADDR, or the URL given) for
// /readiness and fails unless it answers 200: a probe for containers whose
// images have no curl.
func healthcheck(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	url := "http://" + displayAddr(cfg.Addr) + "/readiness"
	if len(args) > 0 {
		url = strings.TrimSuffix(args[0], "/") + "/readiness"
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", url, resp.StatusCode, body)
	}
	_, err = fmt.Fprintf(out, "ready: %s\n", body)
	return err
}
