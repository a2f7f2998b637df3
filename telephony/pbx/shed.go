package pbx

import (
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/sipwire"
)

// Overload tunes load shedding: once one of its limits is crossed, new
// calls are answered 503 with Retry-After by the wire check, before sipgo
// parses them and before any transaction, goroutine, store write or agent
// is spent on them; requests of calls in progress (ACK, BYE, re-INVITE)
// are never shed, so the calls admitted finish.
type Overload struct {
	// MaxRate bounds the new calls admitted per second, with a burst of a
	// tenth of a second's worth, at least one (0: no bound).
	MaxRate float64
	// MaxPending bounds the new INVITEs admitted but not yet taken up by
	// the switch's handler: its backlog, which grows as soon as the
	// machine cannot keep up, whatever the rate (default 100).
	MaxPending int
	// MaxSetup bounds the calls in setup (Server.inSetup) plus the
	// backlog: calls up that are neither answered nor waiting in a line.
	// It is the switch's own measure of falling behind, so no rate has to
	// be guessed for the machine (default 300; negative: no bound).
	MaxSetup int
	// RetryAfter is when refused callers are told to try again (default
	// 5 s; whole seconds).
	RetryAfter time.Duration
}

// shedder decides which new calls to admit. It is consulted for every new
// INVITE off the wire, so it keeps little state: the INVITEs admitted in
// the last 64*T1 (by Call-ID and branch: their retransmissions are not
// new calls), a token bucket and the refusals of each minute, written as
// one aggregate event a minute (telephony.RecordRefused).
type shedder struct {
	cfg Overload

	mu       sync.Mutex
	tokens   float64
	last     time.Time
	pending  int
	admitted map[string]*admission
	// turnedAway holds the new INVITEs refused lately, by key, with the
	// time of their last refusal (see refuseMemory).
	turnedAway map[string]time.Time
	refused    map[time.Time]int // by minute, not yet recorded
	lastShed   time.Time
}

type admission struct {
	at      time.Time
	started bool // the handler took it up
}

// admitWindow is how long an admitted INVITE's retransmissions may come.
const admitWindow = 64 * 500 * time.Millisecond // 64*T1

// refuseMemory is how long a refused INVITE's retransmissions are
// refused again, counted from the last of them. A caller retransmits until
// it hears an answer; the retransmissions it sent before the 503 reached
// it must not become a call it has already given up (a call answered that
// nobody ACKs: no_ack), which they did once the load eased in between.
const refuseMemory = 8 * 500 * time.Millisecond // 8*T1

// overloadMemory is how long after its last refusal the switch counts as
// overloaded (see overloaded).
const overloadMemory = 10 * time.Second

func newShedder(cfg Overload) *shedder {
	if cfg.MaxPending <= 0 {
		cfg.MaxPending = 100
	}
	if cfg.MaxSetup == 0 {
		cfg.MaxSetup = 300
	}
	if cfg.RetryAfter < time.Second {
		cfg.RetryAfter = 5 * time.Second
	}
	return &shedder{cfg: cfg, tokens: cfg.burst(), admitted: map[string]*admission{}, turnedAway: map[string]time.Time{},
		refused: map[time.Time]int{}}
}

func (o Overload) burst() float64 { return max(1, o.MaxRate/10) }

// admit decides whether the new INVITE known by key may become a call,
// calls being the calls up, maxCalls their bound and setup the calls in
// setup (Server.inSetup). A retransmission of an admitted INVITE is
// admitted again.
func (s *shedder) admit(key string, calls, maxCalls, setup int, now time.Time) bool {
	ok, _ := s.admitNew(key, calls, maxCalls, setup, now)
	return ok
}

// admitNew is admit, also saying whether the decision is fresh, not the
// one taken on an earlier copy of the INVITE: only a fresh admission may be
// forgotten, and only a fresh refusal is counted. A retransmission of an
// INVITE refused within refuseMemory is refused again.
func (s *shedder) admitNew(key string, calls, maxCalls, setup int, now time.Time) (ok, fresh bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.admitted[key]; ok {
		return true, false
	}
	if at, ok := s.turnedAway[key]; ok && now.Sub(at) < refuseMemory {
		s.turnedAway[key] = now
		return false, false
	}
	if s.cfg.MaxRate > 0 {
		if d := now.Sub(s.last); !s.last.IsZero() && d > 0 {
			s.tokens = min(s.cfg.burst(), s.tokens+d.Seconds()*s.cfg.MaxRate)
		}
		if now.After(s.last) {
			s.last = now
		}
	}
	if calls+s.pending >= maxCalls || s.pending >= s.cfg.MaxPending || s.cfg.MaxSetup > 0 && setup+s.pending >= s.cfg.MaxSetup ||
		s.cfg.MaxRate > 0 && s.tokens < 1 {
		s.refused[now.Truncate(time.Minute)]++
		s.lastShed = now
		s.turnedAway[key] = now
		return false, true
	}
	s.tokens--
	s.pending++
	s.admitted[key] = &admission{at: now}
	return true, true
}

// started records that the handler took up the admitted INVITE key, and
// reports whether it is the first to: a copy of an INVITE whose call has
// started already is no new call (see onInvite).
func (s *shedder) started(key string) (first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.admitted[key]
	if !ok {
		return true
	}
	if a.started {
		return false
	}
	a.started = true
	s.pending--
	return true
}

// forget drops the admission of key: the INVITE was refused after all
// (the wire check found it malformed), so it is no backlog.
func (s *shedder) forget(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.admitted[key]; ok {
		if !a.started {
			s.pending--
		}
		delete(s.admitted, key)
	}
}

// overloaded reports whether the switch refused calls lately: failures
// it may have caused (an offer lost on the way) are then not held against
// agents.
func (s *shedder) overloaded(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.lastShed.IsZero() && now.Sub(s.lastShed) < overloadMemory
}

// sweep forgets admissions whose retransmissions are over (one never taken
// up leaves the backlog) and returns the refusals of the minutes before
// now's, to be recorded; all of them when final.
func (s *shedder) sweep(now time.Time, final bool) map[time.Time]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, a := range s.admitted {
		if now.Sub(a.at) > admitWindow {
			if !a.started {
				s.pending--
			}
			delete(s.admitted, k)
		}
	}
	for k, at := range s.turnedAway {
		if now.Sub(at) >= refuseMemory {
			delete(s.turnedAway, k)
		}
	}
	minute := now.Truncate(time.Minute)
	var done map[time.Time]int
	for m, n := range s.refused {
		if m.Before(minute) || final {
			if done == nil {
				done = map[time.Time]int{}
			}
			done[m] = n
			delete(s.refused, m)
		}
	}
	return done
}

// inviteKey is how the shedder knows an INVITE and its retransmissions.
func inviteKey(callID, branch string) string { return callID + "\x00" + branch }

// shedNew runs the shedder on a new INVITE off the wire, before the rest
// of the wire check: a refused call costs the read loop only Split and
// the 503, so the answers come soon even when every INVITE is refused.
// It returns the 503 to send when the call is refused, or the key of a new
// admission, which the caller forgets if it refuses the INVITE after all.
func (s *Server) shedNew(m *sipwire.Message) (reply []byte, admitted string) {
	if m.Method() != "INVITE" || sipwire.HasTag(m.First("to")) {
		return nil, ""
	}
	active := s.ActiveCalls()
	key := inviteKey(m.First("call-id"), sipwire.ViaBranch(m.First("via")))
	ok, fresh := s.shed.admitNew(key, active, s.cfg.MaxCalls, s.inSetup(active), s.now())
	if ok {
		if !fresh {
			key = ""
		}
		return nil, key
	}
	if fresh {
		s.metrics.refusedCalls.WithLabelValues(telephony.RefusedOverload).Inc()
	}
	return m.Reply(sip.StatusServiceUnavailable, "Service Unavailable",
		"Retry-After: "+itoa(int(s.shed.cfg.RetryAfter/time.Second))), ""
}

// recordRefused writes the refusals of past minutes as one event per
// minute.
func (s *Server) recordRefused(final bool) {
	for minute, n := range s.shed.sweep(s.now(), final) {
		if final {
			if err := s.exec("", refusedCmd(minute, n)); err != nil {
				s.log.Error("sip: record refused calls", "err", err)
			}
			continue
		}
		s.execAsync("", refusedCmd(minute, n))
	}
}

func refusedCmd(minute time.Time, n int) replication.Command {
	return func(replication.Tx) ([]replication.Draft, error) {
		d, err := telephony.RecordRefused(minute, telephony.RefusedOverload, n)
		return []replication.Draft{d}, err
	}
}
