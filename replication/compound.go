package replication

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	replicationv1 "branchline/gen/branchline/replication/v1"
)

// Compound events.
//
// An audited edit is one fact for the people who made it: the change and
// the audit entry that records who made it and what it replaced. A
// compound event records both as one event — one seq, one place in the
// global log, one entry in its scope's digest — where two events would
// cost every replica twice the envelope, the log and the digest work.
//
// Its kind is the change's kind and the attached fact's, joined by "+"
// ("crm.customer.field_set+access.audit.recorded"); its body is a
// replicationv1.Compound holding both bodies. A replica applies the change
// and then the attached fact, each as an event of its own kind with the
// compound's envelope (origin, seq, clock, entity, actor); the compound's
// scopes are the change's. A release that does not know compound events
// does not know such a kind either, so it parks the event until it is
// upgraded, as it parks any kind of a newer release — it never applies
// the change without its entry. The hub applies compounds only once every
// member can (capability CompoundCapability).

// CompoundCapability is the capability of applying compound events.
const CompoundCapability = "compound:1"

// compoundSep joins a compound's kinds; kind names never contain it.
const compoundSep = "+"

// CompoundKind is the kind of a compound event of a change of kind kind
// with a fact of kind attached.
func CompoundKind(kind, attached string) string { return kind + compoundSep + attached }

// SplitCompound returns the kinds of a compound kind; ok is false for a
// plain kind.
func SplitCompound(kind string) (main, attached string, ok bool) {
	main, attached, ok = strings.Cut(kind, compoundSep)
	return main, attached, ok && main != "" && attached != "" && !strings.Contains(attached, compoundSep)
}

// MainKind is the kind of the change a compound event records (kind
// itself for a plain event).
func MainKind(kind string) string {
	if main, _, ok := SplitCompound(kind); ok {
		return main
	}
	return kind
}

// EncodeDraft returns the kind and body of the event d makes: a compound
// when d has an attachment.
func EncodeDraft(d Draft) (kind string, body []byte, err error) {
	opts := proto.MarshalOptions{Deterministic: true}
	body, err = opts.Marshal(d.Body)
	if err != nil || d.Attached == nil {
		return d.Kind, body, err
	}
	if d.Attached.Attached != nil {
		return "", nil, fmt.Errorf("%s: an attached fact cannot carry another", d.Kind)
	}
	att, err := opts.Marshal(d.Attached.Body)
	if err != nil {
		return "", nil, err
	}
	body, err = opts.Marshal(&replicationv1.Compound{Body: body, Attached: att})
	return CompoundKind(d.Kind, d.Attached.Kind), body, err
}

// compoundHandler is the handler of a compound of the kinds whose
// handlers are h and a: a body decodes when both parts do; it checks and
// applies both parts, each as an event of its own kind, and scopes the
// event as the change.
func compoundHandler(main, attached string, h, a handler) handler {
	return handler{
		decode: func(b []byte) (any, error) {
			var c replicationv1.Compound
			if err := proto.Unmarshal(b, &c); err != nil {
				return nil, err
			}
			p := &compoundParts{main: c.GetBody(), attached: c.GetAttached()}
			var err error
			if p.mainBody, err = h.decode(p.main); err != nil {
				return nil, fmt.Errorf("%s: %w", main, err)
			}
			if p.attachedBody, err = a.decode(p.attached); err != nil {
				return nil, fmt.Errorf("%s: %w", attached, err)
			}
			return p, nil
		},
		check: func(ev *Event, body any) error {
			p := body.(*compoundParts)
			if h.check != nil {
				if err := h.check(ev.part(main, p.main), p.mainBody); err != nil {
					return err
				}
			}
			if a.check != nil {
				return a.check(ev.part(attached, p.attached), p.attachedBody)
			}
			return nil
		},
		apply: func(tx Tx, ev *Event, body any) error {
			p := body.(*compoundParts)
			if err := h.apply(tx, ev.part(main, p.main), p.mainBody); err != nil {
				return err
			}
			return a.apply(tx, ev.part(attached, p.attached), p.attachedBody)
		},
		scope: func(views Tx, ev *Event) ([]string, error) {
			if h.scope == nil {
				return nil, nil
			}
			var c replicationv1.Compound
			if err := proto.Unmarshal(ev.Body, &c); err != nil {
				return nil, err
			}
			return h.scope(views, ev.part(main, c.GetBody()))
		},
	}
}

// compoundParts is a decoded compound body.
type compoundParts struct {
	main, attached         []byte
	mainBody, attachedBody any
}

// part is the event of one part of compound ev.
func (ev *Event) part(kind string, body []byte) *Event {
	p := *ev
	p.Kind, p.Body = kind, body
	return &p
}
