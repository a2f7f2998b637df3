package api

import (
	"context"
	"net"

	"connectrpc.com/connect"

	"branchline/access"
	"branchline/replication"
)

// Auditor records entries in the audit log for services that change
// things outside the AccessService: exports, deletions, merges, imports.
type Auditor interface {
	// Record appends an entry of action on target by the caller of ctx.
	Record(ctx context.Context, action, target, detail string) error
}

// StoreAuditor is the Auditor of a node: each entry is one replicated
// access.audit.recorded event. A service that can, should rather return
// access.AuditDraft with the drafts of the change it audits, so that both
// commit together.
type StoreAuditor struct {
	Store Store
	Node  string // the node's id, recorded as the entry's source
}

var _ Auditor = StoreAuditor{}

// Record implements Auditor.
func (a StoreAuditor) Record(ctx context.Context, action, target, detail string) error {
	return a.RecordAs(ctx, actor(ctx), action, target, detail)
}

// RecordAs records an entry by a named actor, for actions whose actor is
// not an authenticated caller: logins, failed logins, logouts.
func (a StoreAuditor) RecordAs(ctx context.Context, user, action, target, detail string) error {
	_, err := a.Store.Exec(ctx, user, func(replication.Tx) ([]replication.Draft, error) {
		return []replication.Draft{access.AuditDraft(action, target, detail,
			access.WithActor(user), access.WithSource(a.Node, RemoteAddrFrom(ctx)))}, nil
	})
	return err
}

type remoteAddrKey struct{}

// WithRemoteAddr returns ctx carrying the client's network address, which
// audit entries record; the web UI sets it for in-process calls.
func WithRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

// RemoteAddrFrom returns the address WithRemoteAddr set, or "".
func RemoteAddrFrom(ctx context.Context) string {
	s, _ := ctx.Value(remoteAddrKey{}).(string)
	return s
}

// RemoteHost is the host of a client's address "host:port" (an IPv6
// host without its brackets), or addr itself when it has no port: what
// audit entries and the login throttle record of the API's and the web
// UI's callers alike.
func RemoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// remoteAddr is the client's address: the one the context carries, else
// the Connect peer's.
func remoteAddr(ctx context.Context, peer connect.Peer) string {
	if a := RemoteAddrFrom(ctx); a != "" {
		return a
	}
	return peer.Addr
}
