package auth

import (
	"context"
	"net"
)

// A request's caller travels in its context from the adapter that
// verified them (the API's interceptor, the web UI's session check) to
// whatever resolves what they may do; so does the client's address, which
// audit entries and the login throttle record.

type principalKey struct{}

// WithPrincipal returns ctx carrying p, the verified caller.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the caller WithPrincipal set.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok
}

type remoteAddrKey struct{}

// WithRemoteAddr returns ctx carrying the client's network address.
func WithRemoteAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, remoteAddrKey{}, addr)
}

// RemoteAddrFrom returns the address WithRemoteAddr set, or "".
func RemoteAddrFrom(ctx context.Context) string {
	s, _ := ctx.Value(remoteAddrKey{}).(string)
	return s
}

// RemoteHost is the host of a client's address "host:port" (an IPv6 host
// without its brackets), or addr itself when it has no port: what audit
// entries and the login throttle record of the API's and the web UI's
// callers alike.
func RemoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
