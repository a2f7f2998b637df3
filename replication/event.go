package replication

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	replicationv1 "branchline/gen/branchline/replication/v1"
)

// Event is one fact that happened at one origin. (Origin, Seq) is its
// identity: Seq is gapless per origin, which lets the hub detect loss and
// every replica drop duplicates.
type Event struct {
	Origin string // node id, or HubOrigin for events the hub makes
	Seq    uint64 // per origin, from 1, without gaps
	HLC    HLC    // when, in hybrid logical time; orders concurrent writes
	Kind   string // the fact, past tense: "crm.customer.field_set"
	Entity string // what it is about: "customer/01J…"
	Actor  string // the user who caused it
	Body   []byte // the kind's protobuf payload
	// Scopes are the nodes that need the event (see scope.go); none for a
	// company-wide fact. Decided where it was made, part of its content.
	Scopes []string
	// Unchecked says the hub committed the event without checking it (its
	// kind was not active in the cluster then): a replica checks it when
	// it applies it. Not part of the event's identity or digest.
	Unchecked bool
}

// HubOrigin is the origin of events made by the hub itself.
const HubOrigin = "hub"

// Limits on the envelope, checked by Validate. They bound what one event
// can cost every replica.
const (
	MaxIDLen   = 64
	MaxKindLen = 128
	MaxEntity  = 256
	MaxBody    = 256 << 10
)

// String names the event by its identity, for logs and errors.
func (e *Event) String() string {
	return fmt.Sprintf("%s/%d %s %s", e.Origin, e.Seq, e.Kind, e.Entity)
}

// Validate checks the envelope (not the body, see Registry.Check).
func (e *Event) Validate() error {
	if err := e.ValidateShape(); err != nil {
		return err
	}
	if e.HLC > MaxHLC {
		return fmt.Errorf("event hlc %d is after the year 9999", uint64(e.HLC))
	}
	return nil
}

// ValidateShape checks the envelope except how far ahead its stamp is:
// the hub judges that against its own clock, and answers a stamp too far
// ahead (the year 9999 and beyond included) with a clock refusal the node
// knows how to handle, not as malformed input.
func (e *Event) ValidateShape() error {
	switch {
	case !ValidNodeID(e.Origin):
		return fmt.Errorf("event origin %q: %w", e.Origin, ErrInvalidID)
	case e.Seq == 0:
		return errors.New("event seq must start at 1")
	case e.HLC == 0:
		return errors.New("event hlc is zero")
	case e.Kind == "" || len(e.Kind) > MaxKindLen:
		return fmt.Errorf("event kind %q: empty or longer than %d", e.Kind, MaxKindLen)
	case len(e.Entity) > MaxEntity:
		return fmt.Errorf("event entity longer than %d bytes", MaxEntity)
	case len(e.Actor) > MaxIDLen*2:
		return fmt.Errorf("event actor longer than %d bytes", MaxIDLen*2)
	case len(e.Body) > MaxBody:
		return fmt.Errorf("event body of %d bytes exceeds %d", len(e.Body), MaxBody)
	case len(e.Scopes) > MaxScopes:
		return fmt.Errorf("event has %d scopes, at most %d", len(e.Scopes), MaxScopes)
	}
	for _, s := range e.Scopes {
		if err := validScope(s); err != nil {
			return fmt.Errorf("event %w", err)
		}
	}
	return nil
}

// ErrInvalidID says an identifier is empty, too long or has characters
// outside [a-z0-9-].
var ErrInvalidID = errors.New("ids are 1-64 characters of a-z, 0-9 and -")

// ValidNodeID reports whether id can name a node or hub member: 1-64
// characters of lower-case letters, digits and '-', not starting with '-'.
func ValidNodeID(id string) bool {
	if id == "" || len(id) > MaxIDLen || id[0] == '-' {
		return false
	}
	return strings.IndexFunc(id, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}) < 0
}

// ToProto converts the event to its wire form.
func (e *Event) ToProto() *replicationv1.Event {
	return &replicationv1.Event{
		Origin: e.Origin, Seq: e.Seq, Hlc: uint64(e.HLC), Kind: e.Kind,
		Entity: e.Entity, Actor: e.Actor, Body: e.Body, Unchecked: e.Unchecked, Scopes: e.Scopes,
	}
}

// FromProto converts a wire event.
func FromProto(p *replicationv1.Event) *Event {
	return &Event{
		Origin: p.GetOrigin(), Seq: p.GetSeq(), HLC: HLC(p.GetHlc()), Kind: p.GetKind(),
		Entity: p.GetEntity(), Actor: p.GetActor(), Body: p.GetBody(), Unchecked: p.GetUnchecked(), Scopes: p.GetScopes(),
	}
}

// Marshal encodes the event as its protobuf wire form, the form stores keep.
func (e *Event) Marshal() ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(e.ToProto())
}

// UnmarshalEvent decodes an event written by Marshal.
func UnmarshalEvent(b []byte) (*Event, error) {
	var p replicationv1.Event
	if err := proto.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	return FromProto(&p), nil
}

// Draft is an event a domain command wants to record; the store gives it
// its origin, seq, clock and actor when it commits.
type Draft struct {
	Kind   string
	Entity string
	Body   proto.Message
	// Attached, when set, is a fact recorded with this one in the same
	// event (its Entity is not used): the audit entry of an audited edit.
	// See compound.go.
	Attached *Draft
}

// Command decides, by reading the views, which events a user action makes.
// It must not write: the store appends and applies the events it returns,
// in the same transaction. An error refuses the action and nothing is
// written.
type Command func(views Tx) ([]Draft, error)

// Batch limits of the node ⇄ hub protocol. A node never sends more in one
// Push; the hub refuses bigger batches. Pull batches keep to them too.
const (
	MaxBatchEvents = 2000
	MaxBatchBytes  = 4 << 20
)

// GapHeader carries, on a FailedPrecondition answer to Push, the highest
// seq of the caller the hub holds, when the batch started after it: the
// node resends from there.
const GapHeader = "Branchline-Durable-Seq"

// Protocol is the version of the node ⇄ hub protocol this release speaks.
// Version 1 is the release before versions were sent (a request without
// one); version 2 adds clock offsets and parked kinds; version 3 adds
// scopes (a node pulls only its own). MinProtocol is the
// oldest this release still serves.
const (
	Protocol    = 3
	MinProtocol = 1
)

// ProtocolError explains why a peer speaking protocol p cannot be served
// by this side (me: "hub" or "node"; peer names the other side, e.g.
// "node sh-pudong"), naming the side to upgrade. It returns nil when p can
// be served.
func ProtocolError(me, peer string, p uint32) error {
	if p == 0 {
		p = 1
	}
	switch {
	case p > Protocol:
		return fmt.Errorf("%s speaks protocol %d, newer than this %s's %d: upgrade the %s", peer, p, me, Protocol, me)
	case p < MinProtocol:
		return fmt.Errorf("%s speaks protocol %d, older than the %d this %s needs at least: upgrade %s", peer, p, MinProtocol, me, peer)
	}
	return nil
}

// ClockRefusedHeader carries, on a FailedPrecondition answer to Push, the
// seq of the first event the hub refused because it is stamped more than
// the max clock offset ahead of the hub's clock; HubTimeHeader carries the
// hub's wall clock (Unix ms) when it refused.
const (
	ClockRefusedHeader = "Branchline-Clock-Refused-Seq"
	HubTimeHeader      = "Branchline-Hub-Time-Ms"
)
