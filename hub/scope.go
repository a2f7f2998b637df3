package hub

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
)

// Scoped pulls. A node of protocol 3 takes only the events of its scopes
// (replication/scope.go): company-wide events, its branch's, the
// warehouses it owns and the couriers it serves. The hub decides those
// scopes, from its projection (Config.NodeScopes), so a node cannot ask
// for another branch's records.
//
// A node gains a scope when the views say so (a warehouse's owner becomes
// the node): before anything newer, the hub streams it the history of the
// scope — the events of the gained scopes, up to the node's cursor, that
// none of the scopes it held already covered — and the node applies them
// although it received later events of their origins. The node records
// how far the history got with the events, so a cut stream resumes.
//
// Data follows people: an event that reaches a node only through a
// courier scope (a pickup of another branch assigned to a courier the
// node serves), about an entity the node has seen nothing of, comes with
// the entity's earlier events in a message of its own (Followed), found
// through the projection's entity index:
//
//	ei \0 len(entity) entity pos(8)   a scoped event's position, per entity

// ScopedProtocol is the first protocol whose nodes pull their scopes only.
const ScopedProtocol = 3

var entityIndexPrefix = []byte("ei\x00")

func entityIndexKey(entity string, pos uint64) []byte {
	k := binary.AppendUvarint(bytes.Clone(entityIndexPrefix), uint64(len(entity)))
	k = append(k, entity...)
	return binary.BigEndian.AppendUint64(k, pos)
}

func entityIndexPrefixOf(entity string) []byte {
	k := binary.AppendUvarint(bytes.Clone(entityIndexPrefix), uint64(len(entity)))
	return append(k, entity...)
}

// NodeScopes returns the scopes the hub serves node, as its projection
// has them: the node's branch and what Config.NodeScopes adds.
func (h *Hub) NodeScopes(node string) ([]string, error) {
	out := []string{replication.BranchScope(node)}
	if h.cfg.NodeScopes != nil {
		err := h.fsm.read(func(tx replication.Tx) error {
			more, err := h.cfg.NodeScopes(replication.ReadViews(tx), node)
			out = append(out, more...)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("scopes of node %s: %w", node, err)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// scoping is what one Pull stream sends.
type scoping struct {
	node     string
	unscoped bool     // a caller of an older protocol: every event
	scopes   []string // the caller's scopes (held and gaining)
	exclude  string   // the caller's own events are left out
	kinds    []string // kind prefixes, when the caller asked for some
	// history, when set, narrows the stream to the history of scopes
	// being gained: events of gaining that held did not cover.
	history       bool
	held, gaining []string
	// wire is the stream's buffer for its messages' events (batch.wire),
	// reused once a message is sent (keep): framing events into a fresh
	// buffer per message cost more than encoding decoded ones did.
	wire []byte
}

// keepWire bounds the buffer a stream keeps between messages: a stream
// that follows the head sends a few KiB at a time; one catching up sends
// messages of up to MaxBatchBytes, whose buffer it would otherwise hold
// for as long as it lives.
const keepWire = 256 << 10

// keep takes back a sent message's buffer for the next message.
func (sc *scoping) keep(wire []byte) {
	if cap(wire) <= keepWire {
		sc.wire = wire
	} else {
		sc.wire = nil
	}
}

// entry is what a Pull judges of a log entry, read from its wire bytes
// without decoding the event (peekCommitted): most entries of a scoped
// pull are someone else's, and a full decode of each cost 1.2 µs.
type entry struct {
	pos           uint64
	origin, kind  []byte
	scopes        [][]byte
	scratchScopes [4][]byte
}

func (sc *scoping) match(e *entry) bool {
	if string(e.origin) == sc.exclude {
		return false
	}
	if len(sc.kinds) > 0 && !slices.ContainsFunc(sc.kinds, func(k string) bool { return strings.HasPrefix(string(e.kind), k) }) {
		return false
	}
	if sc.unscoped {
		return true
	}
	if sc.history {
		return len(e.scopes) > 0 && inScopes(e.scopes, sc.gaining) && !inScopes(e.scopes, sc.held)
	}
	return inScopes(e.scopes, sc.scopes)
}

// inScopes is replication.InScopes of wire bytes.
func inScopes(es [][]byte, scopes []string) bool {
	if len(es) == 0 {
		return true
	}
	for _, e := range es {
		for _, s := range scopes {
			if string(e) == s {
				return true
			}
		}
	}
	return false
}

// followOnly reports whether e reaches the caller only through courier
// scopes.
func (sc *scoping) followOnly(e *entry) bool {
	if sc.unscoped || len(e.scopes) == 0 {
		return false
	}
	for _, b := range e.scopes {
		if len(b) > 1 && string(b[:2]) == "c:" {
			continue
		}
		for _, s := range sc.scopes {
			if string(b) == s {
				return false
			}
		}
	}
	return true
}

// peekCommitted reads a log entry's position and its event's origin, kind
// and scopes into e, the slices pointing into b.
func peekCommitted(b []byte, e *entry) error {
	e.pos, e.origin, e.kind, e.scopes = 0, nil, nil, e.scratchScopes[:0]
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		switch {
		case num == committedPosition && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errMalformed
			}
			e.pos, b = v, b[n:]
		case num == committedEvent && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errMalformed
			}
			if err := peekEvent(v, e); err != nil {
				return err
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errMalformed
			}
			b = b[n:]
		}
	}
	return nil
}

func peekEvent(b []byte, e *entry) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		if typ == protowire.BytesType && (num == eventOrigin || num == eventKind || num == eventScopes) {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errMalformed
			}
			switch num {
			case eventOrigin:
				e.origin = v
			case eventKind:
				e.kind = v
			default:
				e.scopes = append(e.scopes, v)
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
	}
	return nil
}

// batch is one Pull message's events, as the message carries them: each
// event's Committed as the log stores it, framed as the message's events
// field (eventsResponse). A stream sends what it read without decoding
// and encoding it again — with 200 nodes following the head, each
// committed event would otherwise be marshalled once per stream.
type batch struct {
	wire     []byte
	n        int      // events in wire
	followed []uint64 // positions of events sent as an entity's history
	pos      uint64   // every event up to pos was sent or filtered out
	// waitFor, when set, is a position the projection must reach before
	// the next event can be judged (its entity index).
	waitFor uint64
}

// pullEventsField is the number of PullResponse's events field.
var pullEventsField = (&replicationv1.PullResponse{}).ProtoReflect().Descriptor().Fields().ByName("events").Number()

// add frames one event (a Committed as encoded) into the batch.
func (b *batch) add(committed []byte) {
	b.wire = protowire.AppendBytes(protowire.AppendTag(b.wire, pullEventsField, protowire.BytesType), committed)
	b.n++
}

// eventsResponse returns a message that carries b's events. They ride as
// the message's unknown fields: protobuf writes those as they are after
// the known ones, and a reader decodes them as the events field they are
// framed as (a repeated field's elements may come in any number of runs).
// Nothing on the hub reads the message's Events.
func eventsResponse(b batch) *replicationv1.PullResponse {
	m := &replicationv1.PullResponse{Followed: b.followed}
	m.ProtoReflect().SetUnknown(b.wire)
	return m
}

// readScoped reads the next message after position after, up to until
// (0: the head), bounded in count and bytes: from the tail in memory when
// it holds the next position (tail.go), else from the log in Pebble.
func (f *fsm) readScoped(sc *scoping, after, until uint64, maxEvents, maxBytes int) (batch, error) {
	out := batch{pos: after, wire: sc.wire[:0]}
	size, scanned := 0, 0
	projected := f.Projected()
	err := f.read(func(tx replication.Tx) error {
		// visit takes the entry e, stored as v, and says whether to read
		// on.
		visit := func(e *entry, v []byte) (bool, error) {
			at := e.pos
			if until > 0 && at > until {
				return false, nil
			}
			scanned++
			if !sc.match(e) {
				out.pos = at
				return scanned < 8*maxEvents, nil
			}
			if sc.followOnly(e) {
				if at > projected {
					// The entity index is not there yet: send what is
					// read, then wait for the projection.
					out.waitFor = at
					return false, nil
				}
				var c replicationv1.Committed
				if err := proto.Unmarshal(v, &c); err != nil {
					return false, err
				}
				earlier, err := f.unseen(tx, sc, c.GetEvent().GetEntity(), at)
				if err != nil {
					return false, err
				}
				if len(earlier) > 0 {
					if out.n > 0 {
						return false, nil // in a message of its own
					}
					for _, p := range earlier {
						out.followed = append(out.followed, p.pos)
						out.add(p.raw)
					}
					out.add(v)
					out.pos = at
					return false, nil
				}
			}
			out.add(v)
			out.pos = at
			size += len(v)
			return out.n < maxEvents && size < maxBytes && scanned < 8*maxEvents, nil
		}
		if ents, ok := f.tail.from(after+1, 8*maxEvents); ok {
			for _, t := range ents {
				if more, err := visit(&t.e, t.raw); err != nil || !more {
					return err
				}
			}
			return nil
		}
		var e entry
		return tx.Scan(logPrefix, posKey(after+1), func(_, v []byte) (bool, error) {
			if err := peekCommitted(v, &e); err != nil {
				return false, err
			}
			return visit(&e, v)
		})
	})
	return out, err
}

// unseen returns the events of entity before position at, as stored,
// unless the caller was sent one of them already (it follows the entity).
func (f *fsm) unseen(tx replication.Tx, sc *scoping, entity string, at uint64) ([]storedEvent, error) {
	var out []storedEvent
	seen := false
	prefix := entityIndexPrefixOf(entity)
	err := tx.Scan(prefix, nil, func(k, _ []byte) (bool, error) {
		if len(k) != len(prefix)+8 {
			return true, nil
		}
		p := binary.BigEndian.Uint64(k[len(prefix):])
		if p >= at {
			return false, nil
		}
		b, err := tx.Get(posKey(p))
		if err != nil {
			return false, err
		}
		var c replicationv1.Committed
		if err := proto.Unmarshal(b, &c); err != nil {
			return false, err
		}
		e := c.GetEvent()
		if replication.InScopes(e.GetScopes(), sc.scopes) {
			seen = true
			return false, nil
		}
		if e.GetOrigin() != sc.exclude {
			out = append(out, storedEvent{pos: c.GetPosition(), raw: b})
		}
		return true, nil
	})
	if err != nil || seen {
		return nil, err
	}
	return out, nil
}

// storedEvent is a log entry as stored, at its position.
type storedEvent struct {
	pos uint64
	raw []byte
}

// gaining returns the scopes of now that held lacks.
func gainingOf(held, now []string) []string {
	var out []string
	for _, s := range now {
		if !slices.Contains(held, s) {
			out = append(out, s)
		}
	}
	return out
}
