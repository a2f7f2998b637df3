// Package e2e holds process-level tests: they build the branchline binary,
// start hub members and nodes as real processes on 127.0.0.1 with ports
// the OS chose, cut their links through TCP proxies, kill them with
// SIGKILL, and check that nothing acknowledged is lost or applied twice.
// They are skipped with -short.
package e2e
