package testkit

import (
	"os"
	"os/exec"
	"syscall"
)

// runAsUnprivileged starts cmd as unprivilegedUser when we are root, and
// has the kernel kill it if the test binary dies without running its
// cleanups (a -timeout panic), so no pgbouncer outlives its test. The
// switch is made here rather than with pgbouncer's -u because a process
// that changes its own user loses its parent-death signal.
func runAsUnprivileged(cmd *exec.Cmd, dir string) error {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, err := lookupUnprivileged(dir)
	if err != nil {
		return err
	}
	cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uid, Gid: gid}
	return nil
}
