package pbx

import (
	"context"
	"sync"
	"time"

	"branchline/replication"
	"branchline/telephony"
)

// Store is what the switch needs of the node's store: local durable
// writes and consistent reads of the views.
type Store interface {
	Exec(ctx context.Context, actor string, cmd replication.Command) ([]*replication.Event, error)
	View(fn func(views replication.Tx) error) error
}

// directory caches the telephony configuration of the views. Calls read
// it on every INVITE and the ACD on every dispatch, so it is reloaded
// when older than dirTTL (replicated changes show within that) or at once
// after a change made through this node (Invalidate).
type directory struct {
	store Store
	now   func() time.Time

	mu   sync.Mutex
	snap *snapshot
}

const dirTTL = 2 * time.Second

type snapshot struct {
	at       time.Time
	exts     map[string]telephony.Extension
	trunks   []telephony.Trunk
	queues   map[string]telephony.Queue // effective settings
	didQueue map[string]string
}

func (d *directory) get() (*snapshot, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	if d.snap != nil && now.Sub(d.snap.at) < dirTTL {
		return d.snap, nil
	}
	s := &snapshot{at: now, exts: map[string]telephony.Extension{}, queues: map[string]telephony.Queue{}, didQueue: map[string]string{}}
	err := d.store.View(func(views replication.Tx) error {
		exts, err := telephony.ListExtensions(views)
		if err != nil {
			return err
		}
		for _, e := range exts {
			s.exts[e.Number] = e
		}
		if s.trunks, err = telephony.ListTrunks(views); err != nil {
			return err
		}
		qs, err := telephony.ListQueues(views)
		if err != nil {
			return err
		}
		for _, q := range qs {
			s.queues[q.Name] = q.Effective()
			for _, did := range q.DIDs {
				if _, dup := s.didQueue[did]; !dup {
					s.didQueue[did] = q.Name
				}
			}
		}
		return nil
	})
	if err != nil {
		if d.snap != nil {
			return d.snap, nil // serve the last good configuration
		}
		return nil, err
	}
	d.snap = s
	return s, nil
}

func (d *directory) invalidate() {
	d.mu.Lock()
	d.snap = nil
	d.mu.Unlock()
}

// trunkFor finds the trunk a request from addr comes from by its source.
func (s *snapshot) trunkBySource(addr string) (*telephony.Trunk, bool) {
	ip, ok := parseIP(addr)
	if !ok {
		return nil, false
	}
	for i := range s.trunks {
		if s.trunks[i].Allows(ip) {
			return &s.trunks[i], true
		}
	}
	return nil, false
}

func (s *snapshot) trunkByUser(user string) (*telephony.Trunk, bool) {
	for i := range s.trunks {
		if s.trunks[i].Username != "" && s.trunks[i].Username == user {
			return &s.trunks[i], true
		}
	}
	return nil, false
}

// outboundTrunk is the trunk outbound calls use: the first with a proxy.
func (s *snapshot) outboundTrunk() (*telephony.Trunk, bool) {
	for i := range s.trunks {
		if s.trunks[i].Proxy != "" {
			return &s.trunks[i], true
		}
	}
	return nil, false
}
