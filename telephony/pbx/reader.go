package pbx

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo/sip"
)

// udpReader is the switch's UDP socket as sipgo's read loop sees it. Its
// datagrams are read, and run through the wire check (which answers a new
// INVITE refused under overload with its 503 at once), not only by that
// read loop but also by whichever of the switch's handler goroutines comes
// by while the socket has gone unread for pollInterval (poll), and by the
// read loop on a timer rather than the netpoller while the socket is busy.
//
// Why. A goroutine blocked on a socket is woken by the netpoller, and the
// Go scheduler polls the network only when a P has nothing else to run, or
// from sysmon once 10 ms have passed without a poll. Under overload the
// switch's Ps always have something to run (sipgo's goroutine per message,
// call actors, GC), so the read loop, once it had emptied the socket, slept
// up to 10 ms before it saw the next datagram, and then queued behind the
// runnable goroutines for a CPU: the 503s waited in the socket (issue 17:
// 12 % of them took more than 5 ms at 4,000 calls/s offered). Handler
// goroutines, on the other hand, run all the time then, on every P.
//
// Order. Whoever reads the socket holds mu, and checks what it read before
// letting go of it; what the check passes goes to sipgo's read loop
// through queue, which the read loop empties before it reads the socket
// itself (under mu, so nothing is queued meanwhile). sipgo therefore gets
// the messages in the order the socket had them, as before: the goroutine
// it starts per message is where their order may change, as it could
// before. When queue is full (readQueue datagrams or readQueueBytes),
// pollers leave the datagrams in the socket: nothing is dropped, the read
// loop takes them in turn.
//
// An idle switch costs nothing: after busyWindow without a datagram the
// read loop waits in the netpoller, holding mu so that no poller takes a
// datagram from under it.
type udpReader struct {
	*net.UDPConn
	raw syscall.RawConn
	// check is the wire check of one datagram: the message sipgo is to
	// handle (nil: none); it sends any answer itself. It must not keep
	// data.
	check func(data []byte, from net.Addr) sip.Message

	mu      sync.Mutex
	scratch []byte // pollers read into it, under mu
	rx      rxCall // under mu
	recvFn  func(fd uintptr) bool
	queue   chan datagram
	queued  atomic.Int64 // bytes in queue
	// maxQueued bounds queued (readQueueBytes; tests lower it).
	maxQueued int64
	// last is when a datagram was last read, checked when the socket was
	// last looked at (Unix nanoseconds).
	last, checked atomic.Int64

	// Only the read loop uses these.
	next  sip.Message // the message of the datagram ReadFrom returned last
	timer *time.Timer
}

// datagram is one read and passed by a poller, waiting for the read loop.
type datagram struct {
	data []byte
	from net.Addr
	msg  sip.Message
}

const (
	// pollInterval is how long the socket may go unread while it is busy:
	// the read loop's sleep when it finds the socket empty, and how often
	// a handler goroutine looks at it.
	pollInterval = 250 * time.Microsecond
	// busyWindow is how long after its last datagram the socket counts as
	// busy.
	busyWindow = 20 * time.Millisecond
	// pollBatch bounds the datagrams one poll reads: it runs on a
	// handler's goroutine.
	pollBatch = 64
	// readQueue and readQueueBytes bound the datagrams passed by pollers
	// and not yet taken by the read loop, so that pollers hold at most
	// about half as much as the kernel's buffer (udpReadBuffer) would.
	readQueue      = 1024
	readQueueBytes = 4 << 20
)

// newUDPReader wraps c, whose datagrams check inspects; a socket it cannot
// read raw is returned as it is, with nil.
func newUDPReader(c net.PacketConn, check func(data []byte, from net.Addr) sip.Message) (net.PacketConn, *udpReader) {
	u, ok := c.(*net.UDPConn)
	if !ok {
		return c, nil
	}
	raw, err := u.SyscallConn()
	if err != nil {
		return c, nil
	}
	r := &udpReader{UDPConn: u, raw: raw, check: check, queue: make(chan datagram, readQueue), maxQueued: readQueueBytes}
	r.recvFn = r.recvOnce
	return r, r
}

// ReadFrom returns the next datagram the wire check passed, for sipgo's
// read loop; claim then has its message. Only that one loop calls it.
func (r *udpReader) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		select {
		case d := <-r.queue:
			return r.hand(p, d), d.from, nil
		default:
		}
		r.mu.Lock()
		select {
		case d := <-r.queue: // queued before we held mu
			r.mu.Unlock()
			return r.hand(p, d), d.from, nil
		default:
		}
		idle := time.Now().UnixNano()-r.last.Load() > int64(busyWindow)
		n, from, err := r.recv(p, idle)
		var msg sip.Message
		if err == nil {
			msg = r.check(p[:n], from)
		}
		r.mu.Unlock()
		switch {
		case err == nil && msg != nil:
			r.next = msg
			return n, from, nil
		case err == nil:
			// Answered or dropped by the check: sipgo has nothing to do.
		case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
			r.nap()
		default:
			return 0, nil, err
		}
	}
}

// hand gives the read loop a datagram a poller passed.
func (r *udpReader) hand(p []byte, d datagram) int {
	r.next = d.msg
	r.queued.Add(-int64(len(d.data)))
	return copy(p, d.data)
}

// nap sleeps pollInterval on a timer: unlike the netpoller's, a timer's
// wake-up is seen by every P's scheduling loop.
func (r *udpReader) nap() {
	if r.timer == nil {
		r.timer = time.NewTimer(pollInterval)
	} else {
		r.timer.Reset(pollInterval)
	}
	<-r.timer.C
}

// claim returns the message of the datagram ReadFrom returned last, for
// sipgo's read hook (readParser); ok is false when there is none.
func (r *udpReader) claim() (msg sip.Message, ok bool) {
	msg, r.next = r.next, nil
	return msg, msg != nil
}

// recv reads one datagram into p under mu; when wait, it waits for one in
// the netpoller (EAGAIN otherwise, when the socket is empty).
func (r *udpReader) recv(p []byte, wait bool) (int, net.Addr, error) {
	r.rx = rxCall{buf: p, wait: wait}
	err := r.raw.Read(r.recvFn)
	now := time.Now().UnixNano()
	r.checked.Store(now)
	if err != nil {
		return 0, nil, err
	}
	if r.rx.err != nil {
		return 0, nil, r.rx.err
	}
	r.last.Store(now)
	return r.rx.n, sockaddrUDP(r.rx.from), nil
}

// rxCall is one recv's arguments and results, kept in the reader (under
// mu) so that the callback raw.Read takes is made once, not per datagram.
type rxCall struct {
	buf  []byte
	wait bool
	n    int
	from syscall.Sockaddr
	err  error
}

func (r *udpReader) recvOnce(fd uintptr) bool {
	r.rx.n, r.rx.from, r.rx.err = syscall.Recvfrom(int(fd), r.rx.buf, syscall.MSG_DONTWAIT)
	return !r.rx.wait || !errors.Is(r.rx.err, syscall.EAGAIN)
}

// poll reads and checks what waits in the socket, if it has gone unread
// for pollInterval and nobody else is reading it: handler goroutines call
// it as they start.
func (r *udpReader) poll() {
	if r == nil || time.Now().UnixNano()-r.checked.Load() < int64(pollInterval) || !r.mu.TryLock() {
		return
	}
	defer r.mu.Unlock()
	if r.scratch == nil {
		r.scratch = make([]byte, sip.TransportBufferReadSize)
	}
	for range pollBatch {
		if len(r.queue) == cap(r.queue) || r.queued.Load() >= r.maxQueued {
			return // the read loop is behind: the socket holds the rest
		}
		n, from, err := r.recv(r.scratch, false)
		if err != nil {
			return // empty, or closed: the read loop sees to that
		}
		data := r.scratch[:n]
		if msg := r.check(data, from); msg != nil {
			r.queued.Add(int64(n))
			r.queue <- datagram{data: append([]byte(nil), data...), from: from, msg: msg}
		}
	}
}

func sockaddrUDP(sa syscall.Sockaddr) net.Addr {
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		return &net.UDPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
	case *syscall.SockaddrInet6:
		addr := &net.UDPAddr{IP: net.IP(append([]byte(nil), a.Addr[:]...)), Port: a.Port}
		if a.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(a.ZoneId)); err == nil {
				addr.Zone = ifi.Name
			}
		}
		return addr
	}
	return nil
}
