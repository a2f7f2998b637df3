package access

import (
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	"branchline/replication"
	"branchline/replication/reptest"
)

// replica is one store's views in memory with one origin that runs
// commands the way node.Store does: decide drafts by reading, stamp them,
// check them as the hub would, and apply them.
type replica struct {
	reg    *replication.Registry
	m      *reptest.Mem
	views  *replication.Views
	origin string
	seq    uint64
	hlc    replication.HLC
	log    []*replication.Event // own events
}

func newRegistry() *replication.Registry {
	r := replication.NewRegistry()
	Register(r)
	return r
}

func newReplica(t testing.TB) *replica {
	t.Helper()
	reg := newRegistry()
	m := reptest.NewMem()
	v, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	return &replica{reg: reg, m: m, views: v, origin: "sh-pudong", hlc: replication.MakeHLC(reptest.BaseMillis, 0)}
}

// read is what commands and queries see.
func (r *replica) read() replication.Tx { return replication.ReadViews(r.m) }

// record stamps drafts as the next events of the replica's origin, checks
// them and applies them.
func (r *replica) record(t testing.TB, drafts ...replication.Draft) []*replication.Event {
	t.Helper()
	var evs []*replication.Event
	b := r.views.Begin(r.m)
	for _, d := range drafts {
		body, err := proto.MarshalOptions{Deterministic: true}.Marshal(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		r.seq++
		r.hlc++
		ev := &replication.Event{Origin: r.origin, Seq: r.seq, HLC: r.hlc, Kind: d.Kind, Entity: d.Entity, Actor: "alice", Body: body}
		if err := r.reg.Check(ev); err != nil {
			t.Fatalf("the hub would refuse the event the command made: %v", err)
		}
		out, err := b.Apply(ev)
		if err != nil || out != replication.Applied {
			t.Fatalf("apply %s: outcome %d, %v", ev, out, err)
		}
		evs = append(evs, ev)
		r.log = append(r.log, ev)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
	return evs
}

// must records the draft of a command that must succeed:
// r.must(t)(CreateUser(…)).
func (r *replica) must(t *testing.T) func(replication.Draft, error) {
	return func(d replication.Draft, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		r.record(t, d)
	}
}

// mustChange is must for commands that report whether they change
// anything, which they must.
func (r *replica) mustChange(t *testing.T) func(replication.Draft, bool, error) {
	return func(d replication.Draft, ok bool, err error) {
		t.Helper()
		if err != nil || !ok {
			t.Fatalf("command: ok %v, %v", ok, err)
		}
		r.record(t, d)
	}
}

var testIDs = replication.NewIDs()

func newID() string { return testIDs.New(time.UnixMilli(reptest.BaseMillis)) }

// Hashing costs tens of milliseconds: tests share a few hashes.
var (
	hashOnce sync.Once
	hashes   map[string]string
)

func hashOf(t *testing.T, pw string) string {
	t.Helper()
	hashOnce.Do(func() {
		hashes = map[string]string{}
		for _, p := range []string{"correct horse", "battery staple"} {
			h, err := HashPassword(p)
			if err != nil {
				panic(err)
			}
			hashes[p] = h
		}
	})
	h, ok := hashes[pw]
	if !ok {
		t.Fatalf("no test hash of %q", pw)
	}
	return h
}

// wantInvalid checks that err is a *fault.Invalid naming field and code.
func wantInvalid(t *testing.T, err error, field, code string) {
	t.Helper()
	inv, ok := fault.AsInvalid(err)
	if !ok {
		t.Fatalf("error = %v (%T), want *fault.Invalid %s/%s", err, err, field, code)
	}
	if inv.Field != field || inv.Code != code {
		t.Fatalf("Invalid{Field: %q, Code: %q} (%v), want field %q code %q", inv.Field, inv.Code, err, field, code)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// addUser creates a user with the password "correct horse".
func (r *replica) addUser(t *testing.T, username string, fields map[string]string) string {
	t.Helper()
	id := newID()
	f := map[string]string{FieldUsername: username, FieldDisplayName: "User " + username}
	for k, v := range fields {
		f[k] = v
	}
	d, err := CreateUser(r.read(), id, f, hashOf(t, "correct horse"))
	r.must(t)(d, err)
	return id
}

func (r *replica) addDepartment(t *testing.T, name, parent string) string {
	t.Helper()
	id := newID()
	d, err := CreateDepartment(r.read(), id, name, parent)
	r.must(t)(d, err)
	return id
}

func (r *replica) addRole(t *testing.T, fields map[string]string, perms map[Perm]Scope) string {
	t.Helper()
	id := newID()
	if _, ok := fields[FieldRoleName]; !ok {
		fields[FieldRoleName] = "role " + id
	}
	d, err := CreateRole(r.read(), id, fields, perms)
	r.must(t)(d, err)
	return id
}

const reptest0 = reptest.BaseMillis

func marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}
