package hub

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
)

// The state machine's hot path reads a Push entry without decoding its
// events into messages and encoding them again for the global log: it
// reads the few envelope fields it decides on (origin, seq, clock, kind)
// straight from the wire bytes and writes each event's bytes into its log
// entry unchanged. Every member does this for every event, so it is most
// of the state machine's cost per event (BENCHMARKS.md). The field
// numbers are those of hub/v1/command.proto and replication/v1.

// Field numbers of hubv1.Command, hubv1.Push, replicationv1.Event and
// replicationv1.Committed.
const (
	commandTimeMs = 1
	commandPush   = 2

	pushOrigin      = 1
	pushEvents      = 2
	pushMaxOffsetMs = 3

	eventOrigin    = 1
	eventSeq       = 2
	eventHLC       = 3
	eventKind      = 4
	eventUnchecked = 8
	eventScopes    = 9

	committedPosition = 1
	committedTime     = 2
	committedEvent    = 3
)

var errMalformed = errors.New("malformed entry")

// rawEvent is an event of a Push as the wire carries it.
type rawEvent struct {
	origin string
	seq    uint64
	hlc    uint64
	kind   string
	raw    []byte // the encoded replicationv1.Event
	// marked says the bytes carry an unchecked field: only the hub may set
	// it, so such an event is encoded afresh.
	marked bool
}

// rawPush is a Push entry as the wire carries it.
type rawPush struct {
	origin      string
	events      []rawEvent
	maxOffsetMs int64
}

// splitCommand reads a Command's time and, if its op is a Push, the Push's
// bytes (ok); other ops are decoded as messages.
func splitCommand(b []byte) (timeMs int64, push []byte, ok bool, err error) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, nil, false, errMalformed
		}
		b = b[n:]
		switch {
		case num == commandTimeMs && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, nil, false, errMalformed
			}
			timeMs, b = int64(v), b[n:]
		case num == commandPush && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, nil, false, errMalformed
			}
			push, ok, b = v, true, b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, nil, false, errMalformed
			}
			b = b[n:]
		}
	}
	return timeMs, push, ok, nil
}

func parsePush(b []byte) (rawPush, error) {
	var p rawPush
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return p, errMalformed
		}
		b = b[n:]
		switch {
		case num == pushOrigin && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				return p, errMalformed
			}
			p.origin, b = v, b[n:]
		case num == pushEvents && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return p, errMalformed
			}
			ev, err := parseEvent(v)
			if err != nil {
				return p, err
			}
			p.events, b = append(p.events, ev), b[n:]
		case num == pushMaxOffsetMs && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return p, errMalformed
			}
			p.maxOffsetMs, b = int64(v), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return p, errMalformed
			}
			b = b[n:]
		}
	}
	return p, nil
}

func parseEvent(b []byte) (rawEvent, error) {
	e := rawEvent{raw: b}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return e, errMalformed
		}
		b = b[n:]
		switch {
		case num == eventOrigin && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				return e, errMalformed
			}
			e.origin, b = v, b[n:]
		case num == eventKind && typ == protowire.BytesType:
			v, n := protowire.ConsumeString(b)
			if n < 0 {
				return e, errMalformed
			}
			e.kind, b = v, b[n:]
		case (num == eventSeq || num == eventHLC) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return e, errMalformed
			}
			if num == eventSeq {
				e.seq = v
			} else {
				e.hlc = v
			}
			b = b[n:]
		default:
			e.marked = e.marked || num == eventUnchecked
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return e, errMalformed
			}
			b = b[n:]
		}
	}
	return e, nil
}

// committedBytes encodes a replicationv1.Committed of the event's bytes,
// marked unchecked when asked, without decoding the event.
func committedBytes(pos uint64, timeMs int64, ev rawEvent, unchecked bool) ([]byte, error) {
	raw := ev.raw
	if ev.marked {
		// Drop whatever the node wrote there: encode the event afresh.
		e, err := ev.message()
		if err != nil {
			return nil, err
		}
		e.Unchecked = false
		if raw, err = marshalDeterministic(e); err != nil {
			return nil, err
		}
	}
	size := len(raw)
	if unchecked {
		size += 2
	}
	b := make([]byte, 0, 32+size)
	b = protowire.AppendTag(b, committedPosition, protowire.VarintType)
	b = protowire.AppendVarint(b, pos)
	b = protowire.AppendTag(b, committedTime, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(timeMs))
	b = protowire.AppendTag(b, committedEvent, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	b = append(b, raw...)
	if unchecked {
		b = protowire.AppendTag(b, eventUnchecked, protowire.VarintType)
		b = protowire.AppendVarint(b, 1)
	}
	return b, nil
}

// message decodes the event.
func (e rawEvent) message() (*replicationv1.Event, error) {
	var m replicationv1.Event
	if err := unmarshal(e.raw, &m); err != nil {
		return nil, fmt.Errorf("decode event %s/%d: %w", e.origin, e.seq, err)
	}
	return &m, nil
}

func marshalDeterministic(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

func unmarshal(b []byte, m proto.Message) error { return proto.Unmarshal(b, m) }

// decodeCommitted decodes a log entry into its position, commit time and
// event, straight from the wire: the projection's read of every event.
func decodeCommitted(b []byte) (pos uint64, timeMs int64, ev *replication.Event, err error) {
	ev = &replication.Event{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return 0, 0, nil, errMalformed
		}
		b = b[n:]
		switch {
		case num == committedPosition && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, nil, errMalformed
			}
			pos, b = v, b[n:]
		case num == committedTime && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return 0, 0, nil, errMalformed
			}
			timeMs, b = int64(v), b[n:]
		case num == committedEvent && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return 0, 0, nil, errMalformed
			}
			if err := decodeEventInto(v, ev); err != nil {
				return 0, 0, nil, err
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return 0, 0, nil, errMalformed
			}
			b = b[n:]
		}
	}
	return pos, timeMs, ev, nil
}

// decodeEventInto decodes replicationv1.Event bytes into ev (merging
// repeated fields as protobuf does: the last one wins).
func decodeEventInto(b []byte, ev *replication.Event) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		if typ == protowire.VarintType && (num == eventSeq || num == eventHLC || num == eventUnchecked) {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return errMalformed
			}
			switch num {
			case eventSeq:
				ev.Seq = v
			case eventHLC:
				ev.HLC = replication.HLC(v)
			default:
				ev.Unchecked = v != 0
			}
			b = b[n:]
			continue
		}
		if typ == protowire.BytesType && num == eventScopes {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errMalformed
			}
			ev.Scopes = append(ev.Scopes, string(v))
			b = b[n:]
			continue
		}
		if typ == protowire.BytesType && num >= eventOrigin && num <= 7 {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return errMalformed
			}
			switch num {
			case eventOrigin:
				ev.Origin = string(v)
			case eventKind:
				ev.Kind = string(v)
			case 5:
				ev.Entity = string(v)
			case 6:
				ev.Actor = string(v)
			case 7:
				ev.Body = append([]byte(nil), v...) // v is the reader's buffer
			default:
				n = -1
			}
			if n < 0 {
				return errMalformed
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
