// Package api implements Branchline's Connect services (binary protobuf
// and JSON over HTTP) for nodes and hub members: authentication, status and
// the domain services. Handlers are thin: they check the caller, convert
// messages, and call domain code through the store interfaces declared
// here; every error goes through one mapping to Connect codes.
package api
