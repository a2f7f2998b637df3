package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	replicationv1 "branchline/gen/branchline/replication/v1"
	"branchline/gen/branchline/replication/v1/replicationv1connect"
	"branchline/replication"
	"branchline/rpc"
)

// pipeHub is a hub's Push as far as a node's push loop sees it: it
// commits a batch only if it follows what it holds (a gap commits
// nothing), ignores what it holds already, fails one chosen batch once,
// and holds each push until the node has a full window in flight (or
// sent its last batch), to see whether it does.
type pipeHub struct {
	replicationv1connect.UnimplementedReplicationServiceHandler
	failAt uint64 // the batch starting at this seq fails once

	mu        sync.Mutex
	durable   uint64
	flying    int
	maxFlying int
	lastSent  bool        // the batch ending at the node's last seq is in flight
	committed [][2]uint64 // the batches committed, in order
	failed    bool
	gaps      int
}

func (h *pipeHub) Push(ctx context.Context, req *connect.Request[replicationv1.PushRequest]) (*connect.Response[replicationv1.PushResponse], error) {
	evs := req.Msg.GetEvents()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(evs) == 0 {
		return connect.NewResponse(&replicationv1.PushResponse{DurableSeq: h.durable, Protocol: replication.Protocol}), nil
	}
	first, last := evs[0].GetSeq(), evs[len(evs)-1].GetSeq()
	h.flying++
	h.maxFlying = max(h.maxFlying, h.flying)
	h.lastSent = h.lastSent || last == req.Msg.GetLastSeq()
	defer func() { h.flying-- }()
	// Held until the window is full, then in seq order (as the hub's
	// pushOrder lines a node's batches up), each for a bounded time.
	deadline := time.Now().Add(2 * time.Second)
	for (h.flying < pushWindow && !h.lastSent) || first > h.durable+1 {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			break
		}
		h.mu.Unlock()
		time.Sleep(time.Millisecond)
		h.mu.Lock()
	}
	switch {
	case first == h.failAt && !h.failed:
		h.failed = true
		return nil, connect.NewError(connect.CodeUnavailable, fmt.Errorf("lost the lead"))
	case first > h.durable+1:
		h.gaps++
		ce := connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("gap"))
		ce.Meta().Set(replication.GapHeader, strconv.FormatUint(h.durable, 10))
		return nil, ce
	case last > h.durable:
		h.committed = append(h.committed, [2]uint64{max(first, h.durable+1), last})
		h.durable = last
	}
	return connect.NewResponse(&replicationv1.PushResponse{DurableSeq: h.durable, Protocol: replication.Protocol}), nil
}

// TestPushPipelined: a node with a long outbox keeps several batches in
// flight; when one fails, the ones after it do not commit out of order,
// and every event reaches the hub exactly once, in order.
func TestPushPipelined(t *testing.T) {
	s := newTestStore(t)
	const events = 7*replication.MaxBatchEvents + 123
	for done := 0; done < events; {
		var pairs []string
		for ; len(pairs) < 1000 && done < events; done++ {
			pairs = append(pairs, fmt.Sprintf("k%d=v", done))
		}
		if _, err := s.Exec(context.Background(), "test", set(pairs...)); err != nil {
			t.Fatal(err)
		}
	}
	// The third batch fails once: the node has the fourth (and more) in
	// flight by then.
	hub := &pipeHub{failAt: 2*replication.MaxBatchEvents + 1}
	mux := http.NewServeMux()
	mux.Handle(replicationv1connect.NewReplicationServiceHandler(hub))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := rpc.NewServer(mux) // HTTP/2 over cleartext, as a hub serves it
	go srv.Serve(ln)
	defer srv.Close()
	sy := newSyncer(s, []string{"http://" + ln.Addr().String()}, "token", rpc.NewHTTPClient(), slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); sy.pushLoop(ctx) }()
	deadline := time.Now().Add(60 * time.Second)
	for s.Progress().Pushed < events {
		if time.Now().After(deadline) {
			t.Fatalf("pushed %d of %d", s.Progress().Pushed, events)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done

	hub.mu.Lock()
	defer hub.mu.Unlock()
	if hub.maxFlying < 2 || hub.maxFlying != pushWindow {
		t.Errorf("at most %d pushes in flight, want pushWindow (%d, more than one)", hub.maxFlying, pushWindow)
	}
	if !hub.failed {
		t.Error("the failing batch was never sent")
	}
	next := uint64(1)
	for _, b := range hub.committed {
		if b[0] != next {
			t.Fatalf("committed %v: batch %d..%d after %d", hub.committed, b[0], b[1], next-1)
		}
		next = b[1] + 1
	}
	if hub.durable != events || next != events+1 {
		t.Errorf("the hub holds %d of %d", hub.durable, events)
	}
}
