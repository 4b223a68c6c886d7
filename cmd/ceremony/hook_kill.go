//go:build killhook

package main

import (
	"os"
	"syscall"
)

// testHook kills the process with SIGKILL, as a power cut would, when the
// runner reaches the point named by CEREMONY_KILL_AT. Only the test build has it.
func testHook() func(string) {
	at := os.Getenv("CEREMONY_KILL_AT")
	return func(point string) {
		if point == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}
