package pbx

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"branchline/fault"
	"branchline/replication"
	"branchline/telephony"
)

// AgentInfo is an agent's state at this node.
type AgentInfo struct {
	User       string
	Extension  string
	State      telephony.AgentState
	Reason     string
	Since      time.Time
	Call       string
	Answered   int // today
	Registered bool
}

// agent is the ACD's state of one logged-in user. Agent states are
// node-local: an agent works at one building's phone.
type agent struct {
	user, ext string
	state     telephony.AgentState
	reason    string
	since     time.Time
	idleSince time.Time // when the agent last became free (longest idle)
	savedIdle time.Time // restored when an offer is withdrawn through no fault of the agent
	answered  int
	day       string
	call      string
	wrapCall  string
	wrapStart time.Time
	wrapTimer *time.Timer
	gen       uint64 // invalidates stale wrap-up timers
	logout    bool   // log out when the current call ends
	// resume is the not-ready reason to return to after a call that did
	// not come from a queue (a direct or click-to-dial call); "" for ready.
	resume    string
	resumeSet bool
}

// waiter is a call waiting in a queue.
type waiter struct {
	call     *Call
	queue    string
	arrive   time.Time // in the system: keeps the caller's place when requeued
	enqueued time.Time // in this queue
	prio     int
	seq      uint64
	previous string // the agent who served the caller last (caller-based)
}

// acd matches waiting calls to ready agents. One mutex guards it; it
// never calls into a call while holding it except by posting an event
// without blocking.
type acd struct {
	s *Server

	mu          sync.Mutex
	agents      map[string]*agent // by user
	byExt       map[string]*agent
	idx         readyIndex
	waiting     []*waiter    // by priority (highest first), then arrival
	nwaiting    atomic.Int64 // len(waiting), for the shedder, which does not take mu
	lastOffered map[string]string
	seq         uint64
	stopped     bool
	seeded      map[string]int // today's answered calls per agent at start
	seededDay   string
}

// readyIndex is who may take each queue's calls now, kept as agents
// change state, so that the ACD looks at the ready members of a queue
// rather than at every member of it for every waiting call. (It did:
// dispatch cost waiting calls times members, so once calls waited
// because the switch was busy, it got busier with each one, and fell
// behind for good.) It is built from one configuration (snap) and built
// again when the directory has another; between, acd.set keeps ready and
// login and logout keep loggedIn.
type readyIndex struct {
	snap     *snapshot
	members  map[string]map[string]telephony.Member // queue → user → membership
	queuesOf map[string][]string                    // user → the queues they are a member of
	ready    map[string]map[string]*agent           // queue → its members who are ready, by user
	loggedIn map[string]int                         // queue → its members logged in
	nready   int                                    // agents ready, in any queue or none
}

func newACD(s *Server) *acd {
	return &acd{s: s, agents: map[string]*agent{}, byExt: map[string]*agent{}, lastOffered: map[string]string{}}
}

// indexLocked returns the index, built for the configuration snap (nil:
// the one in force, which may mean reading it from the store) when it was
// built for another; a.mu is held.
func (a *acd) indexLocked(snap *snapshot) *readyIndex {
	if snap == nil {
		if a.idx.snap != nil {
			return &a.idx
		}
		var err error
		if snap, err = a.s.dir.get(); err != nil {
			return &a.idx
		}
	}
	if snap == a.idx.snap {
		return &a.idx
	}
	idx := readyIndex{snap: snap, members: make(map[string]map[string]telephony.Member, len(snap.queues)),
		queuesOf: map[string][]string{}, ready: map[string]map[string]*agent{}, loggedIn: map[string]int{}, nready: a.idx.nready}
	for name, q := range snap.queues {
		ms := make(map[string]telephony.Member, len(q.Members))
		for _, m := range q.Members {
			if _, dup := ms[m.User]; dup {
				continue
			}
			ms[m.User] = m
			idx.queuesOf[m.User] = append(idx.queuesOf[m.User], name)
			ag := a.agents[m.User]
			if ag == nil {
				continue
			}
			idx.loggedIn[name]++
			if ag.state == telephony.Ready {
				if idx.ready[name] == nil {
					idx.ready[name] = map[string]*agent{}
				}
				idx.ready[name][m.User] = ag
			}
		}
		idx.members[name] = ms
	}
	a.idx = idx
	return &a.idx
}

// readyChanged keeps the index when ag becomes ready (on) or stops being.
func (idx *readyIndex) readyChanged(ag *agent, on bool) {
	if on {
		idx.nready++
	} else {
		idx.nready--
	}
	for _, q := range idx.queuesOf[ag.user] {
		if on {
			if idx.ready[q] == nil {
				idx.ready[q] = map[string]*agent{}
			}
			idx.ready[q][ag.user] = ag
		} else {
			delete(idx.ready[q], ag.user)
		}
	}
}

// loginChanged keeps the index when ag logs in (on) or out.
func (idx *readyIndex) loginChanged(ag *agent, on bool) {
	for _, q := range idx.queuesOf[ag.user] {
		if on {
			idx.loggedIn[q]++
		} else {
			idx.loggedIn[q]--
		}
	}
	if !on && ag.state == telephony.Ready {
		idx.readyChanged(ag, false)
	}
}

func (a *acd) stop() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stopped = true
	for _, ag := range a.agents {
		if ag.wrapTimer != nil {
			ag.wrapTimer.Stop()
		}
	}
}

func (a *acd) day(t time.Time) string { return t.In(a.s.loc).Format("2006-01-02") }

// seed counts today's answered calls per agent from the records, for the
// fewest-answered strategy after a restart.
func (a *acd) seed() error {
	now := a.s.now()
	start, end := telephony.Day(now, a.s.loc)
	counts := map[string]int{}
	err := a.s.cfg.Store.View(func(views replication.Tx) error {
		return telephony.Records(views, start, end, false, func(r *telephony.Record) bool {
			if r.Disposition == telephony.Answered && r.Agent != "" {
				counts[r.Agent]++
			}
			return true
		})
	})
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seededDay, a.seeded = a.day(now), counts
	return nil
}

func (ag *agent) info(a *acd) AgentInfo {
	return AgentInfo{User: ag.user, Extension: ag.ext, State: ag.state, Reason: ag.reason, Since: ag.since,
		Call: ag.call, Answered: ag.answeredOn(a.day(a.s.now())), Registered: a.s.reg.registered(ag.ext)}
}

func (ag *agent) answeredOn(day string) int {
	if ag.day != day {
		return 0
	}
	return ag.answered
}

// set changes the agent's state; callers hold a.mu and call notify after.
func (a *acd) set(ag *agent, st telephony.AgentState, reason string) {
	now := a.s.now()
	if st == telephony.Ready && ag.state != telephony.Ready {
		ag.idleSince = now
	}
	if was, is := ag.state == telephony.Ready, st == telephony.Ready; was != is {
		a.idx.readyChanged(ag, is)
	}
	ag.state, ag.reason, ag.since = st, reason, now
	if st != telephony.Ringing && st != telephony.OnCall {
		ag.call = ""
	}
}

func (a *acd) notify(infos ...AgentInfo) {
	if a.s.cfg.OnAgent == nil {
		return
	}
	for _, i := range infos {
		a.s.cfg.OnAgent(i)
	}
}

// Errors of agent commands.
var (
	ErrNotLoggedIn = fmt.Errorf("agent is not logged in: %w", fault.ErrConflict)
	ErrBusy        = fmt.Errorf("agent is on a call: %w", fault.ErrConflict)
)

// login logs user in at extension ext.
func (a *acd) login(user, ext string, ready bool) (AgentInfo, error) {
	snap, err := a.s.dir.get()
	if err != nil {
		return AgentInfo{}, err
	}
	e, ok := snap.exts[ext]
	if !ok {
		return AgentInfo{}, fmt.Errorf("extension %s: %w", ext, fault.ErrNotFound)
	}
	if e.User != "" && e.User != user {
		return AgentInfo{}, fmt.Errorf("extension %s belongs to %s: %w", ext, e.User, fault.ErrDenied)
	}
	a.mu.Lock()
	if other := a.byExt[ext]; other != nil && other.user != user {
		a.mu.Unlock()
		return AgentInfo{}, fmt.Errorf("%s is logged in at extension %s: %w", other.user, ext, fault.ErrConflict)
	}
	ag := a.agents[user]
	if ag != nil && ag.state != telephony.Ready && ag.state != telephony.NotReady && ag.ext != ext {
		a.mu.Unlock()
		return AgentInfo{}, ErrBusy
	}
	if ag == nil {
		ag = &agent{user: user, day: a.day(a.s.now())}
		ag.answered = a.seeded[user]
		if a.seededDay != ag.day {
			ag.answered = 0
		}
		a.agents[user] = ag
		a.idx.loginChanged(ag, true)
	}
	if ag.ext != "" && ag.ext != ext {
		delete(a.byExt, ag.ext)
	}
	ag.ext, ag.logout = ext, false
	a.byExt[ext] = ag
	if ag.state == "" || ag.state == telephony.LoggedOut || ag.state == telephony.Ready || ag.state == telephony.NotReady {
		if ready {
			a.set(ag, telephony.Ready, "")
		} else {
			a.set(ag, telephony.NotReady, "login")
		}
	}
	info := ag.info(a)
	a.mu.Unlock()
	a.notify(info)
	a.dispatch()
	return info, nil
}

// logout logs user out, at once or when the current call ends.
func (a *acd) logout(user string) (AgentInfo, error) {
	a.mu.Lock()
	ag := a.agents[user]
	if ag == nil {
		a.mu.Unlock()
		return AgentInfo{User: user, State: telephony.LoggedOut}, nil
	}
	if ag.state == telephony.Ringing || ag.state == telephony.OnCall {
		ag.logout = true
		info := ag.info(a)
		a.mu.Unlock()
		return info, nil
	}
	a.logoutLocked(ag)
	info := AgentInfo{User: user, State: telephony.LoggedOut, Since: a.s.now()}
	a.mu.Unlock()
	a.notify(info)
	return info, nil
}

func (a *acd) logoutLocked(ag *agent) {
	if ag.wrapTimer != nil {
		ag.wrapTimer.Stop()
		a.endWrapLocked(ag)
	}
	delete(a.byExt, ag.ext)
	delete(a.agents, ag.user)
	a.idx.loginChanged(ag, false)
}

// setState makes user ready or not ready; ready ends wrap-up early.
func (a *acd) setState(user string, st telephony.AgentState, reason string) (AgentInfo, error) {
	if st != telephony.Ready && st != telephony.NotReady {
		return AgentInfo{}, fault.Invalidf("state", "bad_state", "agents set ready or not_ready")
	}
	a.mu.Lock()
	ag := a.agents[user]
	switch {
	case ag == nil:
		a.mu.Unlock()
		return AgentInfo{}, ErrNotLoggedIn
	case ag.state == telephony.Ringing || ag.state == telephony.OnCall:
		a.mu.Unlock()
		return AgentInfo{}, ErrBusy
	}
	if ag.state == telephony.WrapUp {
		ag.wrapTimer.Stop()
		a.endWrapLocked(ag)
	}
	a.set(ag, st, reason)
	info := ag.info(a)
	a.mu.Unlock()
	a.notify(info)
	a.dispatch()
	return info, nil
}

// endWrapLocked records the wrap-up that ends now.
func (a *acd) endWrapLocked(ag *agent) {
	if ag.wrapCall == "" {
		return
	}
	id, d := ag.wrapCall, a.s.now().Sub(ag.wrapStart)
	ag.wrapCall, ag.gen = "", ag.gen+1
	a.s.execAsync(ag.user, func(views replication.Tx) ([]replication.Draft, error) {
		dr, err := telephony.EndWrapUp(views, id, d)
		if errors.Is(err, fault.ErrNotFound) {
			return nil, nil // the record is not written yet or was lost; nothing to amend
		}
		return []replication.Draft{dr}, err
	})
}

func (a *acd) info(user string) (AgentInfo, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ag := a.agents[user]
	if ag == nil {
		return AgentInfo{User: user, State: telephony.LoggedOut}, false
	}
	return ag.info(a), true
}

func (a *acd) list() []AgentInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]AgentInfo, 0, len(a.agents))
	for _, ag := range a.agents {
		out = append(out, ag.info(a))
	}
	slices.SortFunc(out, func(x, y AgentInfo) int {
		if x.User < y.User {
			return -1
		}
		if x.User > y.User {
			return 1
		}
		return 0
	})
	return out
}

// enqueue puts w in line and dispatches.
func (a *acd) enqueue(w *waiter) {
	a.mu.Lock()
	a.seq++
	w.seq = a.seq
	i, _ := slices.BinarySearchFunc(a.waiting, w, func(x, y *waiter) int {
		switch {
		case x.prio != y.prio:
			return y.prio - x.prio
		case !x.arrive.Equal(y.arrive):
			return x.arrive.Compare(y.arrive)
		}
		return int(x.seq) - int(y.seq)
	})
	a.waiting = slices.Insert(a.waiting, i, w)
	a.nwaiting.Store(int64(len(a.waiting)))
	a.mu.Unlock()
	a.dispatch()
}

// remove takes c out of line; it reports whether it was waiting.
func (a *acd) remove(c *Call) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := len(a.waiting)
	a.waiting = slices.DeleteFunc(a.waiting, func(w *waiter) bool { return w.call == c })
	a.nwaiting.Store(int64(len(a.waiting)))
	return len(a.waiting) < n
}

// candidates are the agents queue q may ring now: its ready members
// (from the index) whose membership window is open and whose phone is
// registered. a.mu is held.
func (a *acd) candidates(q telephony.Queue, now time.Time) []telephony.Candidate {
	idx := a.indexLocked(nil)
	ready := idx.ready[q.Name]
	if len(ready) == 0 {
		return nil
	}
	local := now.In(a.s.loc)
	day := a.day(now)
	members := idx.members[q.Name]
	out := make([]telephony.Candidate, 0, len(ready))
	for user, ag := range ready {
		m := members[user]
		if !m.ActiveAt(local) || !a.s.reg.registered(ag.ext) {
			continue
		}
		out = append(out, telephony.Candidate{User: user, Priority: m.Priority, Answered: ag.answeredOn(day), IdleSince: ag.idleSince})
	}
	return out
}

// anyReady reports whether queue q has an agent to ring now.
func (a *acd) anyReady(q telephony.Queue) bool {
	snap, _ := a.s.dir.get()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.indexLocked(snap)
	return len(a.candidates(q, a.s.now())) > 0
}

// anyLoggedIn reports whether some member of q is logged in at all.
func (a *acd) anyLoggedIn(q telephony.Queue) bool {
	snap, _ := a.s.dir.get()
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.indexLocked(snap).loggedIn[q.Name] > 0
}

// dispatch offers waiting calls, oldest and most important first, to
// ready agents of their queues, by each queue's strategy.
func (a *acd) dispatch() {
	a.mu.Lock()
	idle := len(a.waiting) == 0 || a.idx.nready == 0
	a.mu.Unlock()
	if idle {
		return
	}
	snap, err := a.s.dir.get()
	if err != nil {
		a.s.log.Error("sip: acd: configuration", "err", err)
		return
	}
	var changed []AgentInfo
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.indexLocked(snap)
	now := a.s.now()
	// A queue found with nobody to ring stays so for the rest of the pass
	// (offers only take agents away): its other calls are passed over.
	var exhausted map[string]bool
	for i := 0; i < len(a.waiting) && a.idx.nready > 0; {
		w := a.waiting[i]
		q, ok := snap.queues[w.queue]
		if !ok || exhausted[w.queue] {
			i++
			continue
		}
		cands := a.candidates(q, now)
		if len(cands) == 0 {
			if exhausted == nil {
				exhausted = map[string]bool{}
			}
			exhausted[w.queue] = true
			i++
			continue
		}
		order := telephony.Order(q.Strategy, q.Fallback, cands, telephony.Hint{LastOffered: a.lastOffered[w.queue], Previous: w.previous})
		ag := a.agents[order[0]]
		if !w.call.post(evOffer{agent: ag.user, ext: ag.ext}) {
			i++ // the call is gone or busy; it leaves the line itself
			continue
		}
		a.waiting = slices.Delete(a.waiting, i, i+1)
		a.nwaiting.Store(int64(len(a.waiting)))
		a.lastOffered[w.queue] = ag.user
		ag.savedIdle = ag.idleSince
		a.set(ag, telephony.Ringing, "")
		ag.call = w.call.id
		changed = append(changed, ag.info(a))
	}
	a.mu.Unlock()
	a.notify(changed...)
}

// offerFailed returns an agent whose phone did not take call through no
// fault of the agent's (the caller hung up, the call moved on): ready
// again in the same place in line, or back to the state the agent had
// chosen.
func (a *acd) offerFailed(user, call string) { a.offerMissed(user, call, "", 0) }

// offerMissed returns an agent whose phone did not take call. When it was
// the agent's doing (reason: no answer, declined, unreachable) the agent
// is not ready with reason for pause (telephony.ManualPause: until the
// agent or a supervisor says otherwise), then ready again; else as
// offerFailed.
func (a *acd) offerMissed(user, call, reason string, pause time.Duration) {
	a.mu.Lock()
	ag := a.agents[user]
	if ag == nil || ag.call != call || ag.state != telephony.Ringing {
		a.mu.Unlock()
		return
	}
	switch {
	case ag.logout:
		a.logoutLocked(ag)
		a.mu.Unlock()
		a.notify(AgentInfo{User: user, State: telephony.LoggedOut, Since: a.s.now()})
		a.dispatch()
		return
	case reason != "":
		a.set(ag, telephony.NotReady, reason)
		if pause >= 0 {
			since := ag.since
			time.AfterFunc(pause, func() { a.pauseDone(user, reason, since) })
		}
	case ag.resumeSet && ag.resume != "":
		a.set(ag, telephony.NotReady, ag.resume)
	default:
		a.set(ag, telephony.Ready, "")
		ag.idleSince = ag.savedIdle
	}
	ag.resume, ag.resumeSet = "", false
	info := ag.info(a)
	a.mu.Unlock()
	a.notify(info)
	a.dispatch()
}

// pauseDone makes ready again an agent whose pause for reason, begun at
// since, is over, unless the agent's state changed in the meantime.
func (a *acd) pauseDone(user, reason string, since time.Time) {
	a.mu.Lock()
	ag := a.agents[user]
	if ag == nil || a.stopped || ag.state != telephony.NotReady || ag.reason != reason || !ag.since.Equal(since) {
		a.mu.Unlock()
		return
	}
	a.set(ag, telephony.Ready, "")
	info := ag.info(a)
	a.mu.Unlock()
	a.notify(info)
	a.dispatch()
}

// begin marks user busy with call (click-to-dial): ringing until the
// agent answers.
func (a *acd) begin(user, call string) error {
	a.mu.Lock()
	ag := a.agents[user]
	if ag == nil {
		a.mu.Unlock()
		return nil // agents who are not logged in may dial too
	}
	if ag.state == telephony.Ringing || ag.state == telephony.OnCall {
		a.mu.Unlock()
		return ErrBusy
	}
	if ag.wrapTimer != nil && ag.state == telephony.WrapUp {
		ag.wrapTimer.Stop()
		a.endWrapLocked(ag)
	}
	a.remember(ag)
	ag.savedIdle = ag.idleSince
	a.set(ag, telephony.Ringing, "")
	ag.call = call
	info := ag.info(a)
	a.mu.Unlock()
	a.notify(info)
	return nil
}

// remember keeps the agent's state to return to after a call that did not
// come from a queue.
func (a *acd) remember(ag *agent) {
	ag.resume, ag.resumeSet = "", true
	if ag.state == telephony.NotReady {
		ag.resume = ag.reason
		if ag.resume == "" {
			ag.resume = "busy"
		}
	}
}

// connected marks user on call with call; inbound counts as answered.
func (a *acd) connected(user, call string, inbound bool) {
	a.mu.Lock()
	ag := a.agents[user]
	if ag == nil {
		a.mu.Unlock()
		return
	}
	if ag.state == telephony.Ready || ag.state == telephony.NotReady {
		a.remember(ag) // a direct call to the agent's extension
	}
	a.set(ag, telephony.OnCall, "")
	ag.call = call
	if inbound {
		if d := a.day(a.s.now()); ag.day != d {
			ag.day, ag.answered = d, 0
		}
		ag.answered++
	}
	info := ag.info(a)
	a.mu.Unlock()
	a.notify(info)
}

// ended frees user after call, through wrap-up when wrap > 0.
func (a *acd) ended(user, call string, wrap time.Duration) {
	a.mu.Lock()
	ag := a.agents[user]
	if ag == nil || ag.call != call {
		a.mu.Unlock()
		return
	}
	if ag.logout {
		if wrap > 0 {
			ag.wrapCall, ag.wrapStart = call, a.s.now()
			a.endWrapLocked(ag)
		}
		a.logoutLocked(ag)
		a.mu.Unlock()
		a.notify(AgentInfo{User: user, State: telephony.LoggedOut, Since: a.s.now()})
		return
	}
	resume, resumeSet := ag.resume, ag.resumeSet
	ag.resume, ag.resumeSet = "", false
	switch {
	case wrap > 0:
		a.set(ag, telephony.WrapUp, "")
		ag.wrapCall, ag.wrapStart = call, a.s.now()
		ag.gen++
		gen := ag.gen
		ag.wrapTimer = time.AfterFunc(wrap, func() { a.wrapDone(user, gen) })
	case resumeSet && resume != "":
		a.set(ag, telephony.NotReady, resume) // back to what the agent chose
	default:
		a.set(ag, telephony.Ready, "")
	}
	info := ag.info(a)
	a.mu.Unlock()
	a.notify(info)
	a.dispatch()
}

func (a *acd) wrapDone(user string, gen uint64) {
	a.mu.Lock()
	ag := a.agents[user]
	if ag == nil || ag.gen != gen || ag.state != telephony.WrapUp || a.stopped {
		a.mu.Unlock()
		return
	}
	a.endWrapLocked(ag)
	a.set(ag, telephony.Ready, "")
	info := ag.info(a)
	a.mu.Unlock()
	a.notify(info)
	a.dispatch()
}

// QueueInfo is a queue's live state at this node.
type QueueInfo struct {
	Name        string
	Waiting     int
	LongestWait time.Duration
}

func (a *acd) queues() map[string]QueueInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.s.now()
	out := map[string]QueueInfo{}
	for _, w := range a.waiting {
		qi := out[w.queue]
		qi.Name = w.queue
		qi.Waiting++
		qi.LongestWait = max(qi.LongestWait, now.Sub(w.enqueued))
		out[w.queue] = qi
	}
	return out
}
