package api

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"branchline/access"
	"branchline/crm"
	"branchline/replication"
	"branchline/replication/reptest"
)

// memStore is an api.Store for the services' tests, with one origin. Like
// node.Store it runs a command on the views, stamps its drafts and applies
// them in one step; like the hub it checks every event. A command runs on
// a scratch copy, so a refused one (or a failure half-way) leaves nothing
// behind.
type memStore struct {
	mu     sync.Mutex
	mem    *reptest.Mem
	views  *replication.Views
	clock  *replication.Clock
	seq    uint64
	events []*replication.Event
}

// The services' tests each register the kinds they use.
type (
	memStoreAccess    = memStore
	memStoreCustomers = memStore
	memStoreMembers   = memStore
)

func newMemStore(t *testing.T, register ...func(*replication.Registry)) *memStore {
	t.Helper()
	r := replication.NewRegistry()
	for _, reg := range register {
		reg(r)
	}
	m := reptest.NewMem()
	v, err := replication.OpenViews(r, m)
	if err != nil {
		t.Fatal(err)
	}
	return &memStore{mem: m, views: v, clock: replication.NewClock(nil, 0, 0)}
}

func newMemStoreAccess(t *testing.T) *memStore { return newMemStore(t, access.Register) }

// The customer use cases audit their deletions, merges and imports.
func newMemStoreCustomers(t *testing.T) *memStore {
	return newMemStore(t, crm.RegisterCustomers, access.Register)
}

// The membership and blacklist use cases audit their changes too.
func newMemStoreMembers(t *testing.T) *memStore {
	return newMemStore(t, crm.RegisterCustomers, crm.RegisterParams, crm.RegisterBlacklist, crm.RegisterMembers, access.Register)
}

func (s *memStore) Exec(_ context.Context, actor string, cmd replication.Command) ([]*replication.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	scratch := reptest.NewMem()
	for k, v := range s.mem.Dump() {
		if err := scratch.Set([]byte(k), []byte(v)); err != nil {
			return nil, err
		}
	}
	b := s.views.Begin(scratch)
	drafts, err := cmd(b.Views())
	if err != nil {
		return nil, err
	}
	var out []*replication.Event
	seq := s.seq
	for _, d := range drafts {
		kind, body, err := replication.EncodeDraft(d)
		if err != nil {
			return nil, err
		}
		seq++
		ev := &replication.Event{Origin: "sh-pudong", Seq: seq, HLC: s.clock.Now(), Kind: kind, Entity: d.Entity, Actor: actor, Body: body}
		if err := s.views.Registry().Check(ev); err != nil {
			return nil, fmt.Errorf("the hub would refuse %s: %w", ev, err)
		}
		if o, err := b.Apply(ev); err != nil || o != replication.Applied {
			return nil, errors.Join(err, fmt.Errorf("own event %s not applied (outcome %d)", ev, o))
		}
		out = append(out, ev)
	}
	if err := b.Finish(); err != nil {
		return nil, err
	}
	b.Commit()
	s.mem, s.seq = scratch, seq
	s.events = append(s.events, out...)
	return out, nil
}

func (s *memStore) View(fn func(views replication.Tx) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return fn(replication.ReadViews(s.mem))
}

// dump is every key and value, for "nothing changed" checks.
func (s *memStore) dump() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mem.Dump()
}

func (s *memStore) snapshot() map[string]string { return s.dump() }

// state is what a refused call must leave unchanged.
func (s *memStore) state() (replication.Digest, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.views.Digest(), len(s.events)
}

// kinds lists the kinds of the events written, in order.
func (s *memStore) kinds() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, ev := range s.events {
		out = append(out, ev.Kind)
	}
	return out
}
