package replication

import (
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Scopes. Not every node needs every event: a branch needs the company's
// customers, users, products and tariffs, but of pickups, calls and stock
// only its own. Every event names, in its envelope, the scopes that need
// it, decided where it is made by the scope rule of its kind (ScopeBy):
//
//	(none)           company-wide: every node
//	b:{node}         a branch's records (its pickups, calls, callbacks)
//	w:{warehouse}    a warehouse's records (stock moves, stocktakes), for
//	                 the node that owns it
//	e:{warehouse}    a warehouse's escrow (pool, shares, targets and what
//	                 moves them), for the nodes that sell from it: each
//	                 decides what it returns from every seller's balance
//	c:{courier}      what is assigned to a courier, for the nodes that
//	                 serve the courier (data follows people)
//
// The hub sends a node the events of the scopes it serves that node, and
// nothing else. The first scope of an event is its home scope: the
// digest of that scope counts it (Views.EventDigest), so two replicas
// that hold a scope whole compare its digest. A node also holds events
// outside its scopes (a pickup of another branch assigned to a courier it
// serves); those count in their home scope's digest, which such a node
// does not compare.
const (
	CompanyScope = ""
	branchTag    = "b:"
	warehouseTag = "w:"
	escrowTag    = "e:"
	courierTag   = "c:"
	// MaxScopes bounds the scopes of one event.
	MaxScopes = 4
)

// BranchScope is the scope of node's branch records.
func BranchScope(node string) string { return branchTag + node }

// WarehouseScope is the scope of a warehouse's records.
func WarehouseScope(id string) string { return warehouseTag + id }

// EscrowScope is the scope of a warehouse's escrow: the events that move
// its pool and its sellers' shares, for the nodes that sell from it.
func EscrowScope(id string) string { return escrowTag + id }

// CourierScope is the scope of what is assigned to a courier (a user id).
func CourierScope(user string) string { return courierTag + user }

// ScopeKind tells a courier scope ("c") from a branch ("b"), warehouse
// ("w") or escrow ("e") one, with the id after the tag; "" for the company
// scope.
func ScopeKind(scope string) (kind, id string) {
	if k, id, ok := strings.Cut(scope, ":"); ok {
		return k, id
	}
	return "", scope
}

// validScope checks one scope of an envelope.
func validScope(s string) error {
	k, id := ScopeKind(s)
	switch {
	case k != "b" && k != "w" && k != "e" && k != "c":
		return fmt.Errorf("scope %q: not b:, w:, e: or c:", s)
	case id == "" || len(id) > MaxIDLen*2 || strings.ContainsAny(id, "\x00:"):
		return fmt.Errorf("scope %q: bad id", s)
	}
	return nil
}

// HomeScope is the scope whose digest counts ev: its first scope, or the
// company scope.
func HomeScope(ev *Event) string {
	if len(ev.Scopes) == 0 {
		return CompanyScope
	}
	return ev.Scopes[0]
}

// InScopes reports whether a node holding scopes needs ev: it is
// company-wide, or one of its scopes is among them.
func InScopes(ev []string, scopes []string) bool {
	if len(ev) == 0 {
		return true
	}
	for _, s := range ev {
		if slices.Contains(scopes, s) {
			return true
		}
	}
	return false
}

// NormalScopes sorts scopes, drops duplicates and the company scope, and
// keeps the first (the home scope) first: what an envelope carries.
func NormalScopes(home string, more ...string) []string {
	out := make([]string, 0, 1+len(more))
	if home != CompanyScope {
		out = append(out, home)
	}
	rest := slices.Clone(more)
	slices.Sort(rest)
	for _, s := range slices.Compact(rest) {
		if s != CompanyScope && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// ScopeFunc decides the scopes of an event about to be recorded, from the
// views the command read (see NormalScopes for the form). It is run where
// the event is made, once: replicas never recompute it.
type ScopeFunc func(views Tx, ev *Event) ([]string, error)

// ScopeBy sets the scope rule of kind (registered with Handle). Kinds
// without one are company-wide.
func ScopeBy(r *Registry, kind string, fn ScopeFunc) {
	h, ok := r.kinds[kind]
	if !ok {
		panic("replication: scope of an unregistered kind: " + kind)
	}
	h.scope = fn
	r.kinds[kind] = h
}

// Scopes runs kind's scope rule for ev (nil for a company-wide kind).
func (r *Registry) Scopes(views Tx, ev *Event) ([]string, error) {
	h, ok := r.handler(ev.Kind)
	if !ok || h.scope == nil {
		return nil, nil
	}
	s, err := h.scope(views, ev)
	if err != nil {
		return nil, fmt.Errorf("scopes of %s: %w", ev, err)
	}
	return s, nil
}

// ScopeDigest is the digest of what a replica holding scopes holds whole:
// the sum of the event digests of those scopes and the company scope.
// Digests add, so it equals the digest of the union of their events.
func ScopeDigest(digests map[string]Digest, scopes []string) Digest {
	d := digests[CompanyScope]
	for _, s := range slices.Compact(slices.Sorted(slices.Values(scopes))) {
		if s != CompanyScope {
			d.add(digests[s])
		}
	}
	return d
}

// TotalDigest is the digest of every event applied, whatever its scope.
func TotalDigest(digests map[string]Digest) Digest {
	var d Digest
	for _, x := range digests {
		d.add(x)
	}
	return d
}

// DigestStrings renders digests per scope in hex (Status.scope_digests).
func DigestStrings(ds map[string]Digest) map[string]string {
	out := make(map[string]string, len(ds))
	for s, d := range ds {
		out[s] = d.String()
	}
	return out
}

// ParseDigests reads what DigestStrings rendered.
func ParseDigests(ss map[string]string) (map[string]Digest, error) {
	out := make(map[string]Digest, len(ss))
	for s, h := range ss {
		b, err := hex.DecodeString(h)
		if err != nil {
			return nil, fmt.Errorf("digest of scope %q: %w", s, err)
		}
		if out[s], err = DigestFromBytes(b); err != nil {
			return nil, err
		}
	}
	return out, nil
}
