package pbx

import (
	"context"
	"fmt"
	"slices"
	"time"

	"branchline/fault"
	"branchline/telephony"
)

// The switch's API, used by the node's Connect service and web pages.

// Login logs user in as an agent at extension ext, ready or not.
func (s *Server) Login(user, ext string, ready bool) (AgentInfo, error) {
	return s.acd.login(user, ext, ready)
}

// Logout logs user out (after the current call, if any).
func (s *Server) Logout(user string) (AgentInfo, error) { return s.acd.logout(user) }

// SetAgentState makes user ready or not ready with reason.
func (s *Server) SetAgentState(user string, st telephony.AgentState, reason string) (AgentInfo, error) {
	return s.acd.setState(user, st, reason)
}

// Agent returns user's state.
func (s *Server) Agent(user string) AgentInfo {
	info, _ := s.acd.info(user)
	return info
}

// Calls lists the live calls, oldest first.
func (s *Server) Calls() []CallInfo {
	s.mu.Lock()
	out := make([]CallInfo, 0, len(s.calls))
	for _, c := range s.calls {
		out = append(out, c.Info())
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b CallInfo) int { return a.Arrive.Compare(b.Arrive) })
	return out
}

// Call returns live call id.
func (s *Server) Call(id string) (CallInfo, bool) {
	c, ok := s.call(id)
	if !ok {
		return CallInfo{}, false
	}
	return c.Info(), true
}

// Board is the supervisor's live view.
type Board struct {
	Queues        []QueueInfo
	Agents        []AgentInfo
	Calls         []CallInfo
	ActiveDialogs int
}

// Board returns the live state of queues, agents and calls.
func (s *Server) Board() Board {
	b := Board{Agents: s.acd.list(), Calls: s.Calls(), ActiveDialogs: s.ActiveDialogs()}
	waiting := s.acd.queues()
	if snap, err := s.dir.get(); err == nil {
		for name := range snap.queues {
			qi := waiting[name]
			qi.Name = name
			b.Queues = append(b.Queues, qi)
		}
	}
	slices.SortFunc(b.Queues, func(x, y QueueInfo) int {
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	})
	return b
}

// Registrations returns the phones registered, by extension.
func (s *Server) Registrations() map[string][]Binding { return s.reg.list() }

func (s *Server) liveCall(id string) (*Call, error) {
	c, ok := s.call(id)
	if !ok {
		return nil, fmt.Errorf("call %s: %w", id, fault.ErrNotFound)
	}
	return c, nil
}

// Hangup ends call id; by is the user asking.
func (s *Server) Hangup(ctx context.Context, id, by string) error {
	c, err := s.liveCall(id)
	if err != nil {
		return err
	}
	return c.command(ctx, cmdHangup, "", by)
}

// Hold holds (on) or retrieves call id.
func (s *Server) Hold(ctx context.Context, id string, on bool, by string) error {
	c, err := s.liveCall(id)
	if err != nil {
		return err
	}
	cmd := cmdRetrieve
	if on {
		cmd = cmdHold
	}
	return c.command(ctx, cmd, "", by)
}

// Transfer moves the customer of call id to target: an extension, a
// queue (by name or number) or an outside number (blind transfer).
func (s *Server) Transfer(ctx context.Context, id, target, by string) error {
	c, err := s.liveCall(id)
	if err != nil {
		return err
	}
	return c.command(ctx, cmdTransfer, target, by)
}

// transfer re-routes the customer of a connected call; the party they
// were talking to is hung up (and goes to wrap-up).
func (c *Call) transfer(target, by string) error {
	if c.a == nil || c.b == nil || !c.aAnswered || c.att != nil || c.waiting {
		return fmt.Errorf("call %s is not connected: %w", c.id, fault.ErrConflict)
	}
	snap, err := c.s.dir.get()
	if err != nil {
		return err
	}
	e, isExt := snap.exts[target]
	q, isQueue := snap.queues[target]
	if !isQueue {
		if name, ok := snap.didQueue[target]; ok {
			q, isQueue = snap.queues[name], true
		}
	}
	t, hasTrunk := snap.outboundTrunk()
	switch {
	case isExt && !c.s.reg.registered(e.Number):
		return fmt.Errorf("extension %s has no phone registered: %w", target, fault.ErrConflict)
	case isExt, isQueue:
	case telephony.ValidNumber(target) && hasTrunk:
	default:
		return fault.Invalidf("target", "bad_target", "%q is no extension, queue or number", target)
	}
	old, oldAgent := c.b, c.agent
	c.b = nil
	c.a.peer.Store(nil)
	c.transferring = true
	c.s.goSafe(old.bye)
	if oldAgent != "" {
		wrap := time.Duration(0)
		if c.queue.Name != "" {
			wrap = c.queue.WrapUp
		}
		c.s.acd.ended(oldAgent, c.id, wrap)
		c.agent = ""
	}
	c.cause = "transferred"
	switch {
	case isExt:
		if err := c.ring(modeReinvite, e.User, e.Number, nil, directRingTimeout, nil, ""); err != nil {
			c.hangup(telephony.BySystem, "transfer_failed")
			return err
		}
		c.setInfo(func(i *CallInfo) { i.State, i.Agent, i.Extension = StateRinging, e.User, e.Number })
		if e.User != "" && c.s.cfg.OnRing != nil {
			c.s.cfg.OnRing(e.User, c.Info())
		}
	case isQueue:
		c.enterQueue(q)
	default:
		c.trunk = t.Name
		uri, transport := trunkURI(t, target)
		if err := c.ring(modeReinvite, "", "", nil, trunkRingTimeout, uri, transport); err != nil {
			c.hangup(telephony.BySystem, "transfer_failed")
			return err
		}
		c.setInfo(func(i *CallInfo) { i.State = StateRinging })
	}
	return nil
}

// Dial rings user's phone and, when the agent picks up, calls number
// (click-to-dial). It returns the call's id at once.
func (s *Server) Dial(ctx context.Context, user, number string) (string, error) {
	if !telephony.ValidNumber(number) {
		return "", fault.Invalidf("number", "bad_number", "%q is not a number", number)
	}
	snap, err := s.dir.get()
	if err != nil {
		return "", err
	}
	ext := ""
	if info, ok := s.acd.info(user); ok {
		ext = info.Extension
	} else {
		for _, e := range snap.exts {
			if e.User == user && (ext == "" || e.Number < ext) {
				ext = e.Number
			}
		}
	}
	if ext == "" {
		return "", fmt.Errorf("%s has no extension: %w", user, fault.ErrConflict)
	}
	if !s.reg.registered(ext) {
		return "", fmt.Errorf("extension %s has no phone registered: %w", ext, fault.ErrConflict)
	}
	if _, isExt := snap.exts[number]; !isExt {
		if _, ok := snap.outboundTrunk(); !ok {
			return "", fmt.Errorf("no trunk for outbound calls: %w", fault.ErrConflict)
		}
	}
	dir := telephony.Outbound
	if _, isExt := snap.exts[number]; isExt {
		dir = telephony.Internal
	}
	c := s.newCall(dir)
	c.dialNumber, c.caller, c.did, c.agent, c.ext = number, ext, number, user, ext
	c.setInfo(func(i *CallInfo) {
		i.Caller, i.DID, i.Agent, i.Extension, i.State = ext, number, user, ext, StateDialing
	})
	if err := s.acd.begin(user, c.id); err != nil {
		return "", err
	}
	if !s.addCall(c) {
		s.acd.offerFailed(user, c.id)
		return "", fmt.Errorf("too many calls: %w", fault.ErrConflict)
	}
	started := make(chan error, 1)
	s.goSafe(func() {
		if err := c.ring(modeClickAgent, user, ext, nil, directRingTimeout, nil, ""); err != nil {
			started <- err
			c.s.acd.offerFailed(user, c.id)
			c.agent = ""
			c.end(telephony.NotAnswered, telephony.BySystem, "agent_unreachable")
			c.finish()
			return
		}
		started <- nil
		c.run()
	})
	if err := <-started; err != nil {
		return "", fmt.Errorf("ring extension %s: %v: %w", ext, err, fault.ErrConflict)
	}
	return c.id, nil
}
