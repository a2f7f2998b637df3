package warehouse

import (
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	"branchline/replication"
	"branchline/replication/reptest"
)

// tb is what the harness needs of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// sim is a shared simulated wall clock for the replicas of a test.
type sim struct{ now time.Time }

func newSim() *sim { return &sim{now: time.UnixMilli(reptest.BaseMillis).UTC()} }

func (s *sim) wall() time.Time { return s.now }

// advance moves the clock on.
func (s *sim) advance(d time.Duration) time.Time {
	s.now = s.now.Add(d)
	return s.now
}

// replica is one node (or the hub) in a test: its own store, log and
// clock. exec runs a command the way node.Store does — decide on the
// views, stamp, scope on the batch's views, check as the hub would,
// apply — and writes nothing when the command refuses.
type replica struct {
	name  string
	reg   *replication.Registry
	mem   *reptest.Mem
	views *replication.Views
	clock *replication.Clock
	seq   uint64
	log   []*replication.Event
	// sink, when set, receives every event this replica makes (an
	// omniscient observer of the tests).
	sink func(*replication.Event)
}

func newRegistry() *replication.Registry {
	r := replication.NewRegistry()
	Register(r)
	return r
}

func newReplica(t tb, s *sim, name string, reg *replication.Registry) *replica {
	t.Helper()
	m := reptest.NewMem()
	v, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatalf("open views: %v", err)
	}
	return &replica{name: name, reg: reg, mem: m, views: v, clock: replication.NewClock(s.wall, 0, 0)}
}

func (r *replica) view() replication.Tx { return replication.ReadViews(r.mem) }

func (r *replica) exec(t tb, cmd replication.Command) ([]*replication.Event, error) {
	t.Helper()
	drafts, err := cmd(r.view())
	if err != nil {
		return nil, err
	}
	b := r.views.Begin(r.mem)
	var out []*replication.Event
	for _, d := range drafts {
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		r.seq++
		ev := &replication.Event{Origin: r.name, Seq: r.seq, HLC: r.clock.Now(), Kind: d.Kind, Entity: d.Entity, Actor: "clerk", Body: body}
		if ev.Scopes, err = r.reg.Scopes(b.Views(), ev); err != nil {
			t.Fatalf("scopes of %s: %v", ev, err)
		}
		if err := r.reg.Check(ev); err != nil {
			t.Fatalf("the hub would refuse %s: %v", ev, err)
		}
		if o, err := b.Apply(ev); err != nil || o != replication.Applied {
			t.Fatalf("own event %s not applied: %v %v", ev, o, err)
		}
		out = append(out, ev)
	}
	if err := b.Finish(); err != nil {
		t.Fatalf("finish: %v", err)
	}
	b.Commit()
	r.log = append(r.log, out...)
	if r.sink != nil {
		for _, ev := range out {
			r.sink(ev)
		}
	}
	return out, nil
}

// must runs a command that has to succeed.
func (r *replica) must(t tb, cmd replication.Command) []*replication.Event {
	t.Helper()
	evs, err := r.exec(t, cmd)
	if err != nil {
		t.Fatalf("%s: %v", r.name, err)
	}
	return evs
}

func one(d replication.Draft, err error) ([]replication.Draft, error) {
	if err != nil {
		return nil, err
	}
	return []replication.Draft{d}, nil
}

// receive applies events made elsewhere (each origin's in seq order).
func (r *replica) receive(t tb, evs ...*replication.Event) {
	t.Helper()
	b := r.views.Begin(r.mem)
	for _, ev := range evs {
		if _, err := b.Apply(ev); err != nil {
			t.Fatalf("%s apply %s: %v", r.name, ev, err)
		}
		r.clock.Observe(ev.HLC)
	}
	if err := b.Finish(); err != nil {
		t.Fatalf("finish: %v", err)
	}
	b.Commit()
}

// pull applies up to n of from's events that r has not applied yet
// (n < 0: all of them).
func (r *replica) pull(t tb, from *replica, n int) {
	t.Helper()
	hw, err := replication.AppliedSeq(r.mem, from.name)
	if err != nil {
		t.Fatalf("applied seq: %v", err)
	}
	rest := from.log[min(int(hw), len(from.log)):]
	if n >= 0 && n < len(rest) {
		rest = rest[:n]
	}
	r.receive(t, rest...)
}

// digest is the digest of the replica's views, checked against a full
// recomputation.
func (r *replica) digest(t tb) replication.Digest {
	t.Helper()
	d, err := replication.DigestOf(r.mem, replication.ViewPrefix)
	if err != nil {
		t.Fatalf("digest: %v", err)
	}
	if d != r.views.Digest() {
		t.Fatalf("%s: incremental digest differs from the views'", r.name)
	}
	return d
}

// exchange delivers everything every replica made to every other.
func exchange(t tb, rs ...*replica) {
	t.Helper()
	for _, to := range rs {
		for _, from := range rs {
			if to != from {
				to.pull(t, from, -1)
			}
		}
	}
}

// wantCode fails unless err is a *fault.Invalid with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	inv, ok := fault.AsInvalid(err)
	if !ok || inv.Code != code {
		t.Fatalf("want invalid %q, got %v", code, err)
	}
}

// wantErr fails unless err wraps target.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("want %v, got %v", target, err)
	}
}
