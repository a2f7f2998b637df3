package bench

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/crm"
	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/replication"
	"branchline/telephony"
)

// bodyPool is how many distinct customer bodies events cycle through: the
// entity (a fresh ULID) makes every event a new customer, the body varies
// enough that the views are not one repeated record.
const bodyPool = 4096

// customerFields returns the fields of the i-th sample customer, as a
// branch clerk would type them: about 210 bytes once encoded.
func customerFields(i int) map[string]string {
	return map[string]string{
		"display_name": fmt.Sprintf("上海浦东速递有限公司第%04d营业部", i%10000),
		"code":         fmt.Sprintf("SH%06d", i),
		"mobile":       fmt.Sprintf("138 %04d %04d", (i/10000)%10000, i%10000),
		"city":         "上海",
		"address":      fmt.Sprintf("上海市浦东新区张江路 %d 号 %d 室", i%999+1, i%37+101),
		"postcode":     "201203",
		"level":        "VIP",
	}
}

// customerCommand is the command a node runs to create customer id.
func customerCommand(id string, i int) replication.Command {
	return func(views replication.Tx) ([]replication.Draft, error) {
		d, err := crm.CreateCustomer(views, id, customerFields(i))
		if err != nil {
			return nil, err
		}
		return []replication.Draft{d}, nil
	}
}

// noViews is an empty, read-only view store: what CreateCustomer reads
// when the bench builds event bodies without a node.
type noViews struct{}

func (noViews) Get([]byte) ([]byte, error) { return nil, replication.ErrNotFound }
func (noViews) Set(_, _ []byte) error      { return replication.ErrReadOnly }
func (noViews) Delete([]byte) error        { return replication.ErrReadOnly }
func (noViews) Scan(_, _ []byte, _ func(k, v []byte) (bool, error)) error {
	return nil
}
func (noViews) ScanReverse(_, _ []byte, _ func(k, v []byte) (bool, error)) error {
	return nil
}

// customerBodies encodes n customer-created bodies through the domain's own
// command, so that they are canonical and pass the hub's checks.
func customerBodies(n int) ([][]byte, error) {
	ids := replication.NewIDs()
	out := make([][]byte, n)
	for i := range out {
		d, err := crm.CreateCustomer(noViews{}, ids.New(time.Now()), customerFields(i))
		if err != nil {
			return nil, fmt.Errorf("sample customer %d: %w", i, err)
		}
		out[i], err = proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// callBodies encodes n call records of a branch's switch through the
// domain's own decision, so that they pass the hub's checks.
func callBodies(n int) ([][]byte, error) {
	ids := replication.NewIDs()
	arrive := time.UnixMilli(1_796_000_000_000)
	out := make([][]byte, n)
	for i := range out {
		d, err := telephony.EndCall(&telephony.Record{
			ID: ids.New(arrive), SIPCallID: fmt.Sprintf("bench-%d@127.0.0.1", i), Direction: telephony.Inbound,
			Caller: fmt.Sprintf("+86138%08d", i), DID: "+862150001000", Trunk: "carrier", Queue: "pickup",
			Agent: fmt.Sprintf("agent%02d", i%40), Extension: fmt.Sprintf("8%03d", i%40),
			Arrive: arrive, Ring: arrive.Add(2 * time.Second), Answer: arrive.Add(6 * time.Second), End: arrive.Add(96 * time.Second),
			Disposition: telephony.Answered, HangupBy: "caller", Cause: "normal",
		})
		if err != nil {
			return nil, fmt.Errorf("sample call %d: %w", i, err)
		}
		out[i], err = proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// eventSource makes one origin's events as its node would push them:
// gapless seqs from 1, increasing HLCs, each a new customer — or, for a
// share of them, a call record of the node's own branch (scope b:origin),
// which the hub sends no other branch.
type eventSource struct {
	origin string
	seq    uint64 // last seq made
	clock  *replication.Clock
	ids    *replication.IDs
	bodies [][]byte
	// calls are call record bodies, a branchShare of the events; owed
	// carries the part of a call (in millionths) over between events.
	calls       [][]byte
	branchShare float64
	owed        int
	scopes      []string
}

func newEventSource(origin string, bodies [][]byte) *eventSource {
	return &eventSource{origin: origin, clock: replication.NewClock(nil, 0, 0), ids: replication.NewIDs(), bodies: bodies,
		scopes: []string{replication.BranchScope(origin)}}
}

// withCalls makes a share of the events (0 to 1) call records.
func (s *eventSource) withCalls(calls [][]byte, share float64) *eventSource {
	s.calls, s.branchShare = calls, share
	return s
}

// next returns the origin's next n events.
func (s *eventSource) next(n int) []*replicationv1.Event {
	evs := make([]*replicationv1.Event, n)
	now := time.Now()
	for i := range evs {
		s.seq++
		ev := &replicationv1.Event{
			Origin: s.origin,
			Seq:    s.seq,
			Hlc:    uint64(s.clock.Now()),
			Kind:   crm.KindCustomerCreated,
			Entity: crm.Entity(s.ids.New(now)),
			Actor:  "bench",
			Body:   s.bodies[int(s.seq)%len(s.bodies)],
		}
		if s.owed += int(s.branchShare*1e6 + 0.5); s.owed >= 1e6 && len(s.calls) > 0 {
			s.owed -= 1e6
			ev.Kind, ev.Entity, ev.Scopes = telephony.KindCallEnded, telephony.CallEntity(s.ids.New(now)), s.scopes
			ev.Body = s.calls[int(s.seq)%len(s.calls)]
		}
		evs[i] = ev
	}
	return evs
}

// sampleEvent returns one event and its encoded size, after checking that
// the hub would accept it.
func sampleEvent(bodies [][]byte, reg *replication.Registry) (*replicationv1.Event, int, error) {
	ev := newEventSource("bench-sample", bodies).next(1)[0]
	if err := reg.Check(replication.FromProto(ev)); err != nil {
		return nil, 0, fmt.Errorf("sample event is not valid: %w", err)
	}
	return ev, proto.Size(ev), nil
}
