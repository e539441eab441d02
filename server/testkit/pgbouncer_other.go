//go:build !linux

package testkit

import (
	"os"
	"os/exec"
)

// runAsUnprivileged has pgbouncer switch to unprivilegedUser itself when we
// are root (it refuses to run as root).
func runAsUnprivileged(cmd *exec.Cmd, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if _, _, err := lookupUnprivileged(dir); err != nil {
		return err
	}
	cmd.Args = append([]string{cmd.Args[0], "-u", unprivilegedUser}, cmd.Args[1:]...)
	return nil
}
