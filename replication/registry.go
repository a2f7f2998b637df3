package replication

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"google.golang.org/protobuf/proto"
)

// ErrUnknownKind is returned for an event kind no applier is registered for.
var ErrUnknownKind = errors.New("unknown event kind")

// ApplyFunc changes views for one event. It must be deterministic and
// total: given the same views and event it makes the same writes on every
// replica, reads no clock, and does not fail for any body that decodes
// (it ignores what it does not understand). An error means the store
// failed, and the caller aborts the transaction.
type ApplyFunc func(tx Tx, ev *Event) error

type handler struct {
	decode func(body []byte) (any, error)
	apply  func(tx Tx, ev *Event, body any) error
	check  func(ev *Event, body any) error
	scope  ScopeFunc
}

// Registry maps event kinds to their appliers. Build it once at start-up;
// it is read-only afterwards and safe for concurrent use.
type Registry struct {
	kinds   map[string]handler
	indexes []Index
	feeds   []Feed
	// compounds caches the handlers of the compound kinds met so far
	// (kind → handler), made of the registered kinds' on first use.
	compounds sync.Map
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{kinds: map[string]handler{}}
}

// Handle registers apply for kind, whose body is a protobuf message of type
// M. check, when not nil, validates an event before anyone accepts it (the
// hub calls it on every pushed event); apply must still cope with any
// body that decodes.
func Handle[M proto.Message](r *Registry, kind string, apply func(tx Tx, ev *Event, body M) error, check func(ev *Event, body M) error) {
	if _, dup := r.kinds[kind]; dup {
		panic("replication: kind registered twice: " + kind)
	}
	var zero M
	h := handler{
		decode: func(b []byte) (any, error) {
			m := zero.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(b, m); err != nil {
				return nil, err
			}
			return m, nil
		},
		apply: func(tx Tx, ev *Event, body any) error { return apply(tx, ev, body.(M)) },
	}
	if check != nil {
		h.check = func(ev *Event, body any) error { return check(ev, body.(M)) }
	}
	r.kinds[kind] = h
}

// Kinds lists the registered kinds in order.
func (r *Registry) Kinds() []string {
	ks := make([]string, 0, len(r.kinds))
	for k := range r.kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Check validates an event as a whole: envelope, known kind, body that
// decodes and passes the kind's check.
func (r *Registry) Check(ev *Event) error {
	if err := ev.Validate(); err != nil {
		return err
	}
	h, ok := r.handler(ev.Kind)
	if !ok {
		return fmt.Errorf("%s: %w", ev, ErrUnknownKind)
	}
	body, err := h.decode(ev.Body)
	if err != nil {
		return fmt.Errorf("%s: body: %w", ev, err)
	}
	if h.check != nil {
		if err := h.check(ev, body); err != nil {
			return fmt.Errorf("%s: %w", ev, err)
		}
	}
	return nil
}

// Known reports whether kind has an applier in this registry: a
// registered kind, or a compound of two (compound.go).
func (r *Registry) Known(kind string) bool {
	_, ok := r.handler(kind)
	return ok
}

// handler returns kind's handler: the registered one, or for a compound
// kind one made of its two kinds' handlers.
func (r *Registry) handler(kind string) (handler, bool) {
	if h, ok := r.kinds[kind]; ok {
		return h, true
	}
	if h, ok := r.compounds.Load(kind); ok {
		return h.(handler), true
	}
	main, attached, ok := SplitCompound(kind)
	if !ok {
		return handler{}, false
	}
	h, ok1 := r.kinds[main]
	a, ok2 := r.kinds[attached]
	if !ok1 || !ok2 {
		return handler{}, false
	}
	c := compoundHandler(main, attached, h, a)
	r.compounds.Store(kind, c)
	return c, true
}

// errInvalid marks an event of a known kind whose body does not decode
// or fails the kind's check: a replica applies it as a no-op.
var errInvalid = errors.New("invalid event")

// apply runs the event's applier on the view Tx. The caller made sure the
// kind is known. A body that does not decode, or an unchecked event (see
// Event.Unchecked) that fails its kind's check, returns errInvalid and
// changes nothing. Checked events skip the check: every replica treats an
// event alike, since whether it is checked travels with it.
func (r *Registry) apply(views Tx, ev *Event) error {
	h, _ := r.handler(ev.Kind)
	body, err := h.decode(ev.Body)
	if err != nil {
		return fmt.Errorf("%w: %s: body: %w", errInvalid, ev, err)
	}
	if h.check != nil && ev.Unchecked {
		if err := h.check(ev, body); err != nil {
			return fmt.Errorf("%w: %s: %w", errInvalid, ev, err)
		}
	}
	if err := h.apply(views, ev, body); err != nil {
		return fmt.Errorf("apply %s: %w", ev, err)
	}
	return nil
}

// Without returns a copy of the registry that lacks kinds: the registry of
// an older release, for tests of upgrades.
func (r *Registry) Without(kinds ...string) *Registry {
	out := &Registry{kinds: make(map[string]handler, len(r.kinds)), indexes: r.indexes, feeds: r.feeds}
	for k, h := range r.kinds {
		out.kinds[k] = h
	}
	for _, k := range kinds {
		delete(out.kinds, k)
	}
	return out
}
