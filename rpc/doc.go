// Package rpc is the Connect kernel every Branchline process shares,
// knowing no domain: the one mapping of errors to Connect codes (Error),
// bearer-token authentication (RequireAuth, WithBearer), zstd on the
// replication streams, the HTTP client and server settings, the
// operations endpoints (/healthz, /readyz, /metrics) and the status
// service of nodes and hub members. The domain services live in api; the
// node, the hub and api build on this package.
package rpc
