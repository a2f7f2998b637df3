package hub

import (
	"sync"
	"time"
)

// A node keeps several pushes in flight (node.pushWindow): each batch is
// sent before the hub has acknowledged the one before, so that a branch
// reconnecting with a long outbox is not held to one Raft round trip per
// batch. The state machine commits a batch only if it follows what the hub
// holds of its origin (a gap commits nothing), so the batches must be
// proposed in seq order: pushOrder lines up a node's concurrent pushes —
// which HTTP/2 hands to handlers in parallel, their bodies read at
// different speeds — before Raft.Apply, and lets each go once the one
// before it was proposed. A batch whose predecessor never comes (it failed
// at the node, or was sent to another member) waits at most lineUpWait,
// then is proposed anyway: the state machine refuses it as a gap and the
// node sends again from what the hub holds. Proposals of one origin are
// ordered, not serialised: Raft batches them into one log append.
type pushOrder struct {
	mu    sync.Mutex
	nodes map[string]*originQueue
}

// originQueue is one node's line.
type originQueue struct {
	next    uint64        // the first seq of the batch expected next (0: any)
	changed chan struct{} // closed and replaced whenever next changes or the line is free
	busy    bool          // a batch of this node is being handed to Raft
	waiting int           // batches waiting for their turn
}

// lineUpWait bounds how long a batch waits for the one before it.
const lineUpWait = 250 * time.Millisecond

// lineUp waits until the batch of node's events first..last may be
// proposed and returns the function that ends its turn once the batch was
// handed to Raft: the batch after it may follow. A batch that then fails
// (this member lost the lead) leaves the line expecting what follows it;
// the node sends again from what the hub holds, which is never later, so
// nothing waits on a batch that will not come.
func (o *pushOrder) lineUp(node string, first, last uint64) (done func()) {
	timeout := time.NewTimer(lineUpWait)
	defer timeout.Stop()
	o.mu.Lock()
	if o.nodes == nil {
		o.nodes = map[string]*originQueue{}
	}
	q := o.nodes[node]
	if q == nil {
		q = &originQueue{changed: make(chan struct{})}
		o.nodes[node] = q
	}
	// Wait while another batch is being proposed (no longer than Raft
	// takes to enqueue it), and while the batch before this one is
	// expected, up to lineUpWait.
	late := false
	for q.busy || (!late && q.next != 0 && first > q.next) {
		ch, deadline := q.changed, timeout.C
		if late {
			deadline = nil
		}
		q.waiting++
		o.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			late = true
		}
		o.mu.Lock()
		q.waiting--
	}
	q.busy = true
	o.mu.Unlock()
	return func() {
		o.mu.Lock()
		defer o.mu.Unlock()
		q.busy, q.next = false, last+1
		close(q.changed)
		q.changed = make(chan struct{})
	}
}

// waiting is how many of node's batches wait for their turn.
func (o *pushOrder) waiting(node string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if q := o.nodes[node]; q != nil {
		return q.waiting
	}
	return 0
}
