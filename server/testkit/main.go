package testkit

import (
	"fmt"
	"os"
)

// MainT is a T for code outside a test function, such as the examples of a
// package: a failure panics, and cleanups run at Close.
type MainT struct{ cleanups []func() }

// Helper does nothing: there is no test log to point at a line.
func (m *MainT) Helper() {}

// Errorf reports a failure on standard error and carries on.
func (m *MainT) Errorf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// Fatal panics with args: there is no test to stop.
func (m *MainT) Fatal(args ...any) { panic(fmt.Sprint(args...)) }

// Fatalf panics with the formatted message.
func (m *MainT) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

// Cleanup registers f to run at Close.
func (m *MainT) Cleanup(f func()) { m.cleanups = append(m.cleanups, f) }

// Close runs the cleanups, last first.
func (m *MainT) Close() {
	for i := len(m.cleanups) - 1; i >= 0; i-- {
		m.cleanups[i]()
	}
}
