//go:build !killhook

package main

// testHook is a no-op in the real binary; the killhook build (tests only)
// kills the process at a named point to prove that a ceremony resumes.
func testHook() func(string) { return nil }
