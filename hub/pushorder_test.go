package hub

import (
	"testing"
	"time"
)

// waitFor polls cond until it holds or a deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestPushOrderLinesUp: a node's batches that reach the hub out of order
// are proposed in seq order; another node's batches do not wait for them.
func TestPushOrderLinesUp(t *testing.T) {
	var o pushOrder
	o.lineUp("a", 1, 10)() // the line now expects 11
	order := make(chan uint64, 3)
	go func() {
		done := o.lineUp("a", 21, 30) // arrives before its predecessor
		order <- 21
		done()
	}()
	waitFor(t, "the second batch to wait", func() bool { return o.waiting("a") == 1 })
	o.lineUp("b", 500, 600)() // another node's line is its own
	done := o.lineUp("a", 11, 20)
	order <- 11
	done()
	if first, second := <-order, <-order; first != 11 || second != 21 {
		t.Fatalf("proposed %d then %d, want 11 then 21", first, second)
	}
}

// TestPushOrderGivesUp: a batch whose predecessor never comes is proposed
// after lineUpWait (the state machine then refuses it as a gap), and a
// batch sent again from earlier (after a failure) never waits.
func TestPushOrderGivesUp(t *testing.T) {
	var o pushOrder
	o.lineUp("a", 1, 10)()
	start := time.Now()
	o.lineUp("a", 21, 30)() // 11..20 never comes
	if waited := time.Since(start); waited < lineUpWait {
		t.Fatalf("proposed after %v, before its predecessor's %v were up", waited, lineUpWait)
	}
	start = time.Now()
	o.lineUp("a", 11, 40)() // sent again from what the hub holds
	if waited := time.Since(start); waited >= lineUpWait {
		t.Fatalf("a resend waited %v", waited)
	}
}

// TestPushOrderOneAtATime: while one batch is being handed to Raft, the
// next of the same node waits for it, however late.
func TestPushOrderOneAtATime(t *testing.T) {
	var o pushOrder
	done := o.lineUp("a", 1, 10)
	turn := make(chan struct{})
	go func() {
		o.lineUp("a", 11, 20)()
		close(turn)
	}()
	waitFor(t, "the next batch to wait", func() bool { return o.waiting("a") == 1 })
	select {
	case <-turn:
		t.Fatal("the next batch went while the first was being proposed")
	case <-time.After(lineUpWait + 50*time.Millisecond):
	}
	done()
	<-turn
}
