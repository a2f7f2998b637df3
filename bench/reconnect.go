package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"runtime/pprof"
	"time"

	"branchline/crm"
	"branchline/node"
	"branchline/replication"
	"branchline/wiring"
)

// reconnectResult is the reconnect of a branch after a long outage: the
// events it queued offline reach the hub, then a fresh node catches up.
type reconnectResult struct {
	Events, Creates, Edits int

	Queued   time.Duration // to make them at the offline node, locally
	QueueCPU cpuUse

	// Restart is the offline node's restart, its hub's address given: to
	// its store open and its syncer started (its type-ahead memory loaded
	// first). A node whose link comes back is running already; the bench
	// restarts it to give it the address, and times the reconnect from
	// there.
	Restart   time.Duration
	Acked     time.Duration // from the node up (the reconnect) to the hub acknowledging all
	Projected time.Duration // from the node up to the leader's views showing all
	HubCPU    cpuUse        // while acknowledging and projecting
	Company   time.Duration // from the reconnect to every member's company views holding and indexing all
	// AllCPU is the CPU from the reconnect to Company: all the work the
	// events caused, which HubCPU leaves partly outside its window the
	// shorter the run (company views, compactions).
	AllCPU cpuUse

	CatchUp time.Duration // a fresh node: from start to all applied and indexed
	// Serving is when the fresh node served views holding every event,
	// with what it answers from at once (type-ahead, screen pop): before
	// CatchUp when it started from a snapshot and built its lists behind.
	Serving time.Duration
	// PopBuilding is the fresh node's screen pop (a LookupByPhone of a
	// customer it took) from Serving until its lists are built, one every
	// poll: its reads wait for the index steps' commits in flight.
	// PopMissed counts those that found nobody (screenPop).
	PopBuilding summary
	PopMissed   int
	CatchEvent  uint64 // events in the hub's log it had to take
	CatchCPU    cpuUse
	DigestSame  bool // the fresh node's event digest equals the hub's
}

// queueChunk is how many customer events one local command makes while
// the bench fills the offline node.
const queueChunk = 500

// measureReconnect queues events customer events (creates and edits, four
// to one) at an offline node, reconnects it to the hub and times the hub
// acknowledging and projecting them, then times a fresh node catching up
// on the whole log, search index included.
func measureReconnect(ctx context.Context, c *cluster, events int, dir string, tokens map[string]string, log *slog.Logger, say func(string, ...any)) (reconnectResult, error) {
	const offline, fresh = "bench-offline", "bench-catchup"
	r := reconnectResult{Events: events}
	say("reconnect: queueing %d customer events at an offline node", events)
	m := markCPU()
	start := time.Now()
	cfgA := node.Config{ID: offline, DataDir: filepath.Join(dir, offline), HTTPAddr: "127.0.0.1:0", AdminPassword: c.pw, Log: log}
	a, err := startLabelled(ctx, offline, "queue", wiring.NodeConfig{Config: cfgA})
	if err != nil {
		return r, err
	}
	ids := replication.NewIDs()
	var made []string
	var created []createChunk
	for done := 0; done < events; {
		n := min(queueChunk, events-done)
		var cmd replication.Command
		// Every fifth chunk edits customers made before; the rest create.
		if len(made) > queueChunk && (done/queueChunk)%5 == 4 {
			targets := made[len(made)-n:]
			cmd = func(v replication.Tx) ([]replication.Draft, error) {
				out := make([]replication.Draft, 0, n)
				for i, id := range targets {
					d, ok, err := crm.UpdateCustomer(v, id, map[string]string{"address": fmt.Sprintf("上海市徐汇区漕溪北路 %d 号", i+done)})
					if err != nil {
						return nil, err
					}
					if ok {
						out = append(out, d)
					}
				}
				return out, nil
			}
			r.Edits += n
		} else {
			chunk := make([]string, n)
			for i := range chunk {
				chunk[i] = ids.New(time.Now())
			}
			base := done
			cmd = func(v replication.Tx) ([]replication.Draft, error) {
				out := make([]replication.Draft, 0, n)
				for i, id := range chunk {
					d, err := crm.CreateCustomer(v, id, customerFields(base+i))
					if err != nil {
						return nil, err
					}
					out = append(out, d)
				}
				return out, nil
			}
			made = append(made, chunk...)
			created = append(created, createChunk{first: base, n: n})
			r.Creates += n
		}
		if _, err := a.Store().Exec(ctx, "bench", cmd); err != nil {
			a.Close()
			return r, fmt.Errorf("queue events: %w", err)
		}
		done += n
		if done%100_000 == 0 {
			say("  queued %d", done)
		}
	}
	r.Queued, r.QueueCPU = time.Since(start), m.use()
	queued := a.Store().Progress().LastSeq
	if err := a.Close(); err != nil {
		return r, err
	}

	l := c.leader()
	if l == nil {
		return r, errors.New("the hub has no leader")
	}
	head0 := l.Head()
	say("reconnect: the node with %d events in its outbox reaches the hub", queued)
	start = time.Now()
	cfgA.HubURLs, cfgA.Token = c.urls(), tokens[offline]
	a, err = startLabelled(ctx, offline, "reconnect", wiring.NodeConfig{Config: cfgA})
	if err != nil {
		return r, err
	}
	defer a.Close()
	r.Restart = time.Since(start)
	m, start = markCPU(), time.Now()
	pctx, stopProgress := context.WithCancel(ctx)
	go c.progress(pctx, 10*time.Second, say)
	defer stopProgress()
	err = poll(ctx, 15*time.Minute, func() bool {
		seq, _ := l.DurableSeq(offline)
		return seq >= queued
	})
	if err != nil {
		return r, fmt.Errorf("the hub acknowledged %d of %d: %w", must(l.DurableSeq(offline)), queued, err)
	}
	r.Acked = time.Since(start)
	head := l.Head()
	if err := poll(ctx, 15*time.Minute, func() bool { return l.Projected() >= head }); err != nil {
		return r, fmt.Errorf("the leader projected %d of %d: %w", l.Projected(), head, err)
	}
	r.Projected, r.HubCPU = time.Since(start), m.use()
	say("reconnect: acknowledged in %s, projected in %s (%d → %d)", r.Acked.Round(time.Millisecond), r.Projected.Round(time.Millisecond), head0, head)

	say("catch-up: a fresh node takes the hub's %d events, search index included", head)
	if err := c.waitApplied(ctx, head, 5*time.Minute); err != nil {
		return r, err
	}
	// The members' company views catch up and index what was pushed,
	// unpaused on a quiet hub: on separate machines that does not slow a
	// node's catch-up served by one of them, but here three members share
	// two CPUs with it, so the catch-up starts after them.
	if err := c.waitCompany(ctx, head, 30*time.Minute); err != nil {
		return r, fmt.Errorf("company views: %w", err)
	}
	r.Company, r.AllCPU = time.Since(start), m.use()
	stopProgress()
	say("catch-up: the members' company views hold and index all %s after the reconnect", r.Company.Round(time.Millisecond))
	m, start = markCPU(), time.Now()
	b, err := startLabelled(ctx, fresh, "catchup", wiring.NodeConfig{Config: node.Config{ID: fresh, DataDir: filepath.Join(dir, fresh), HTTPAddr: "127.0.0.1:0", HubURLs: c.urls(), Token: tokens[fresh], AdminPassword: c.pw, Log: log}})
	if err != nil {
		return r, err
	}
	defer b.Close()
	// Progress is the cursor of the views served or, while the node
	// bootstraps from a snapshot beside them, the pairs it installed and
	// the position its rebuild reached, and then the snapshot's entities
	// whose list entries are still to build (until 2026-12-07 this left
	// them out, and a million customers' lists were reported complete
	// when they had stopped being waited for, a minute after serving).
	last, backlog, moved := uint64(0), -1, time.Now()
	caughtUp := false
	var pops latencies
	var popErr error
	err = poll(ctx, 30*time.Minute, func() bool {
		cur := b.Store().Progress().Cursor
		if cur >= head && r.Serving == 0 {
			r.Serving = time.Since(start)
		}
		if p := cur + b.Store().SnapshotPairs() + b.Store().RebuildCursor(); p != last {
			last, moved = p, time.Now()
		}
		if cur < head {
			return time.Since(moved) > stallAfter
		}
		if popErr = screenPop(b.Store(), created, &pops, &r.PopMissed); popErr != nil {
			return true
		}
		// Serving: what is left is the lists (IndexCaughtUp reads the
		// backlog again, so it is asked only once that is empty).
		if n := b.Store().BulkBacklog(); n != backlog {
			backlog, moved = n, time.Now()
		}
		caughtUp = backlog == 0 && b.Store().IndexCaughtUp()
		return caughtUp || time.Since(moved) > stallAfter
	})
	if err == nil && popErr != nil {
		err = fmt.Errorf("screen pop: %w", popErr)
	}
	if err == nil && !caughtUp {
		err = fmt.Errorf("no progress for %s", stallAfter)
		if backlog >= 0 {
			err = fmt.Errorf("%w (%d entities' lists to build)", err, backlog)
		}
	}
	if err != nil {
		return r, fmt.Errorf("the fresh node reached %d of %d: %w", b.Store().Progress().Cursor, head, err)
	}
	r.CatchUp, r.CatchCPU, r.CatchEvent = time.Since(start), m.use(), head
	r.PopBuilding = pops.summarize()
	r.DigestSame = b.Store().ScopeDigest() == l.ScopeDigest(b.Store().Scopes().Held)
	return r, nil
}

// createChunk is one local command's creates: the customerFields index of
// its first customer, and how many it made.
type createChunk struct{ first, n int }

// screenPop times a LookupByPhone of a customer drawn from the chunks of
// creates into pops, and counts in
// missed one that finds nobody: a node that pulled the events rather than
// install a snapshot finds a customer once its indexer reaches it.
func screenPop(s *node.Store, created []createChunk, pops *latencies, missed *int) error {
	if len(created) == 0 {
		return nil
	}
	chunk := created[rand.IntN(len(created))]
	phone := customerFields(chunk.first + rand.IntN(chunk.n))["mobile"]
	t := time.Now()
	err := s.View(func(views replication.Tx) error {
		found, err := crm.LookupByPhone(views, phone)
		if len(found) == 0 {
			*missed++
		}
		return err
	})
	if err == nil {
		pops.add(time.Since(t))
	}
	return err
}

func must[T any](v T, _ error) T { return v }

// startLabelled starts a node whose goroutines carry the profiler labels
// node=id and phase=phase (they inherit them), so that a --cpuprofile tells
// the nodes' work from the hub's, and the offline node queueing from the
// same node reconnecting: go tool pprof -tagfocus phase=reconnect.
func startLabelled(ctx context.Context, id, phase string, cfg wiring.NodeConfig) (n *wiring.Node, err error) {
	pprof.Do(ctx, pprof.Labels("node", id, "phase", phase), func(context.Context) {
		n, err = wiring.StartNode(cfg)
	})
	return n, err
}
