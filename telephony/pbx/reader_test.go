package pbx

import (
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// readerSwitch is a switch refusing every new call, with the parts the
// wire check needs and a udpReader on a real socket that nothing reads
// but the test: sipgo's read loop stands still, as when it waits for a
// CPU.
func readerSwitch(t *testing.T, queue int) (*Server, *udpReader, *rawUA) {
	t.Helper()
	s := benchServer(true)
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s.udpConn = c
	_, r := newUDPReader(c, s.checkDatagram)
	if r == nil {
		t.Fatal("no reader for a UDP socket")
	}
	r.queue = make(chan datagram, queue)
	s.reader = r
	return s, r, newRawUA(t, c.LocalAddr().String())
}

// pollUntil polls r as handler goroutines do until cond holds.
func pollUntil(t *testing.T, r *udpReader, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("polling: no %s within 5 s", what)
		}
		r.checked.Store(0) // due at once
		r.poll()
	}
}

// byeSpec is a BYE within a dialog (a To tag: never shed).
func byeSpec(callID string) reqSpec {
	return reqSpec{method: "BYE", ruri: "sip:4000@127.0.0.1", from: "13800000022", to: "4000", callID: callID, toTag: "agent1"}
}

// TestPollRefusesWhileTheReadLoopWaits: a handler goroutine that polls
// the socket answers a new INVITE refused under overload with its 503 at
// once, though sipgo's read loop has not read anything; the BYE of a call
// in progress it read is not lost but handed to the read loop, parsed,
// after the datagrams before it.
func TestPollRefusesWhileTheReadLoopWaits(t *testing.T) {
	_, r, ua := readerSwitch(t, readQueue)
	bye := newCallID()
	ua.send(ua.build(byeSpec(bye)))
	invite := newCallID()
	ua.send(ua.build(reqSpec{method: "INVITE", ruri: "sip:4000@127.0.0.1", from: "13800000022", to: "4000", callID: invite,
		contact: "<sip:13800000022@" + ua.addr() + ">"}))
	pollUntil(t, r, "BYE queued", func() bool { return len(r.queue) == 1 })
	res := ua.answerTo("i:"+invite, "")
	if res == nil || res.StatusCode != sip.StatusServiceUnavailable {
		t.Fatalf("the INVITE polled: %v, want 503", res)
	}
	buf := make([]byte, sip.TransportBufferReadSize)
	n, _, err := r.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	msg, ok := r.claim()
	req, isReq := msg.(*sip.Request)
	if !ok || !isReq || req.Method != sip.BYE || req.CallID().Value() != bye {
		t.Fatalf("the read loop got %v, want the BYE of %s", msg, bye)
	}
	if n == 0 || string(buf[:3]) != "BYE" {
		t.Fatalf("the read loop got the bytes %q", buf[:n])
	}
	if _, ok := r.claim(); ok {
		t.Fatal("a message claimed twice")
	}
}

// TestPollLeavesTheRestWhenTheQueueIsFull: with the read loop's queue
// full (by count or by bytes), pollers leave datagrams in the socket, and
// the read loop gets every one in the order sent: a backlog is never
// dropped.
func TestPollLeavesTheRestWhenTheQueueIsFull(t *testing.T) {
	tests := []struct {
		name   string
		queue  int
		bytes  int64
		queued int // when the pollers stop
	}{
		{"by count", 2, readQueueBytes, 2},
		{"by bytes", readQueue, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r, ua := readerSwitch(t, tt.queue)
			r.maxQueued = tt.bytes
			const n = 5
			var ids []string
			for range n {
				id := newCallID()
				ids = append(ids, id)
				ua.send(ua.build(byeSpec(id)))
			}
			pollUntil(t, r, "full queue", func() bool { return len(r.queue) == tt.queued })
			r.checked.Store(0)
			r.poll() // full: reads nothing
			if len(r.queue) != tt.queued {
				t.Fatalf("%d queued, want %d", len(r.queue), tt.queued)
			}
			buf := make([]byte, sip.TransportBufferReadSize)
			for i, id := range ids {
				if _, _, err := r.ReadFrom(buf); err != nil {
					t.Fatal(err)
				}
				msg, _ := r.claim()
				if req, ok := msg.(*sip.Request); !ok || req.CallID().Value() != id {
					t.Fatalf("datagram %d: %v, want the BYE of %s", i, msg, id)
				}
			}
			if q := r.queued.Load(); q != 0 {
				t.Fatalf("%d bytes counted queued after the read loop took all", q)
			}
		})
	}
}

// TestReadFromClosed: closing the socket ends the read loop, whether it
// waits in the netpoller (idle) or naps between reads (busy).
func TestReadFromClosed(t *testing.T) {
	for _, busy := range []bool{false, true} {
		_, r, _ := readerSwitch(t, readQueue)
		if busy {
			r.last.Store(time.Now().Add(time.Hour).UnixNano())
		}
		done := make(chan error, 1)
		go func() {
			_, _, err := r.ReadFrom(make([]byte, 1500))
			done <- err
		}()
		r.UDPConn.Close()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("busy %v: ReadFrom on a closed socket returned no error", busy)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("busy %v: ReadFrom did not return after Close", busy)
		}
	}
}
