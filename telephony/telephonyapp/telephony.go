package telephonyapp

import (
	"context"
	"fmt"
	"time"

	"branchline/access"
	"branchline/app"
	"branchline/crm/crmapp"
	"branchline/fault"
	"branchline/replication"
	"branchline/telephony"
	"branchline/telephony/pbx"
)

// Switch is what the use cases need of the node's SIP switch
// (*pbx.Server).
type Switch interface {
	Login(user, ext string, ready bool) (pbx.AgentInfo, error)
	Logout(user string) (pbx.AgentInfo, error)
	SetAgentState(user string, st telephony.AgentState, reason string) (pbx.AgentInfo, error)
	Agent(user string) pbx.AgentInfo
	Dial(ctx context.Context, user, number string) (string, error)
	Hangup(ctx context.Context, id, by string) error
	Hold(ctx context.Context, id string, on bool, by string) error
	Transfer(ctx context.Context, id, target, by string) error
	Call(id string) (pbx.CallInfo, bool)
	Board() pbx.Board
	Registrations() map[string][]pbx.Binding
	SendMessage(ctx context.Context, actor, ext, text string) (*telephony.Message, error)
	Message(id string) (*telephony.Message, error)
	ConfigChanged()
}

// Telephony is the use cases of a node's call centre.
type Telephony struct {
	Store app.Store
	// Switch is the node's SIP switch; nil: the node runs without SIP.
	Switch Switch
	// Location is the node's business time zone for days; nil means
	// app.DefaultTimeZone.
	Location *time.Location
	// Now is the clock; nil means time.Now.
	Now app.Clock
}

// ErrNoSwitch is returned for live commands on a node without SIP.
var ErrNoSwitch = fmt.Errorf("%w: this node runs without SIP (--sip)", fault.ErrUnavailable)

func (s *Telephony) loc() *time.Location { return app.Zone(s.Location) }

// sw is the switch, or ErrNoSwitch.
func (s *Telephony) sw() (Switch, error) {
	if s.Switch == nil {
		return nil, ErrNoSwitch
	}
	return s.Switch, nil
}

// change runs a configuration command and tells the switch.
func (s *Telephony) change(ctx context.Context, c app.Caller, cmd replication.Command) error {
	if err := c.Require(access.TelephonyAdmin); err != nil {
		return err
	}
	if _, err := s.Store.Exec(ctx, c.User, cmd); err != nil {
		return err
	}
	if s.Switch != nil {
		s.Switch.ConfigChanged()
	}
	return nil
}

// CallNumbers are a call's caller and did as c may see them, and whether
// one is masked: the outside party's number (telephony.Party) is masked
// unless c may see phone numbers; extensions and the company's own
// numbers stay.
func CallNumbers(c app.Caller, direction, caller, did string) (string, string, bool) {
	shown, masked := crmapp.PhoneFor(c, telephony.Party(direction, caller, did))
	if !masked {
		return caller, did, false
	}
	if direction == telephony.Inbound {
		return shown, did, true
	}
	return caller, shown, true
}

// Configuration.

// Extension is an extension with the phones registered at it now.
type Extension struct {
	telephony.Extension
	Contacts []pbx.Binding
}

// SetExtension adds or changes an extension; password "" keeps the
// current one.
func (s *Telephony) SetExtension(ctx context.Context, c app.Caller, e telephony.Extension, password string) (telephony.Extension, error) {
	err := s.change(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.SetExtension(views, e, password))
	})
	return e, err
}

// DeleteExtension removes an extension.
func (s *Telephony) DeleteExtension(ctx context.Context, c app.Caller, number string) error {
	return s.change(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.RemoveExtension(views, number))
	})
}

// Extensions lists the extensions with their registrations.
func (s *Telephony) Extensions(_ context.Context, c app.Caller) ([]Extension, error) {
	if err := c.Require(access.TelephonyAdmin, access.Supervise); err != nil {
		return nil, err
	}
	exts, err := app.Read(s.Store, telephony.ListExtensions)
	if err != nil {
		return nil, err
	}
	var regs map[string][]pbx.Binding
	if s.Switch != nil {
		regs = s.Switch.Registrations()
	}
	out := make([]Extension, len(exts))
	for i, e := range exts {
		out[i] = Extension{Extension: e, Contacts: regs[e.Number]}
	}
	return out, nil
}

// SetTrunk adds or changes a trunk; password "" keeps the current one.
// Sources are the addresses or networks calls may come from.
func (s *Telephony) SetTrunk(ctx context.Context, c app.Caller, t telephony.Trunk, sources []string, password string) (telephony.Trunk, error) {
	if err := c.Require(access.TelephonyAdmin); err != nil {
		return telephony.Trunk{}, err
	}
	srcs, err := telephony.ParseSources(sources)
	if err != nil {
		return telephony.Trunk{}, err
	}
	t.Sources = srcs
	if err := s.change(ctx, c, func(replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.SetTrunk(t, password))
	}); err != nil {
		return telephony.Trunk{}, err
	}
	return app.Read(s.Store, func(views replication.Tx) (telephony.Trunk, error) {
		saved, _, err := telephony.GetTrunk(views, t.Name)
		return saved, err
	})
}

// DeleteTrunk removes a trunk.
func (s *Telephony) DeleteTrunk(ctx context.Context, c app.Caller, name string) error {
	return s.change(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.RemoveTrunk(views, name))
	})
}

// Trunks lists the trunks.
func (s *Telephony) Trunks(_ context.Context, c app.Caller) ([]telephony.Trunk, error) {
	if err := c.Require(access.TelephonyAdmin); err != nil {
		return nil, err
	}
	return app.Read(s.Store, telephony.ListTrunks)
}

// Queue is a queue with its callers waiting now.
type Queue struct {
	telephony.Queue
	Live pbx.QueueInfo
}

func (s *Telephony) queue(name string) (Queue, error) {
	q, ok, err := app.Read2(s.Store, func(views replication.Tx) (telephony.Queue, bool, error) { return telephony.GetQueue(views, name) })
	if err != nil {
		return Queue{}, err
	}
	if !ok {
		return Queue{}, fmt.Errorf("queue %s: %w", name, fault.ErrNotFound)
	}
	return Queue{Queue: q, Live: s.liveQueues()[name]}, nil
}

func (s *Telephony) liveQueues() map[string]pbx.QueueInfo {
	out := map[string]pbx.QueueInfo{}
	if s.Switch != nil {
		for _, q := range s.Switch.Board().Queues {
			out[q.Name] = q
		}
	}
	return out
}

// SetQueue adds or changes a queue (durations must not be negative);
// pause is its no-answer pause as typed: "manual", whole seconds, or ""
// for the default (q.NoAnswerPause is not read).
func (s *Telephony) SetQueue(ctx context.Context, c app.Caller, q telephony.Queue, pause string) (Queue, error) {
	if err := c.Require(access.TelephonyAdmin); err != nil {
		return Queue{}, err
	}
	for _, d := range []time.Duration{q.RingTimeout, q.WrapUp, q.OverflowAfter, q.MaxWait, q.ServiceLevel} {
		if d < 0 {
			return Queue{}, fault.Invalidf("queue", "negative", "durations must not be negative")
		}
	}
	var err error
	if q.NoAnswerPause, err = telephony.ParsePause(pause); err != nil {
		return Queue{}, err
	}
	if err := s.change(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.SetQueue(views, q))
	}); err != nil {
		return Queue{}, err
	}
	return s.queue(q.Name)
}

// DeleteQueue removes a queue.
func (s *Telephony) DeleteQueue(ctx context.Context, c app.Caller, name string) error {
	return s.change(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.RemoveQueue(views, name))
	})
}

// Queues lists the queues with their callers waiting.
func (s *Telephony) Queues(_ context.Context, c app.Caller) ([]Queue, error) {
	if err := c.Require(access.TelephonyAdmin, access.Supervise); err != nil {
		return nil, err
	}
	qs, err := app.Read(s.Store, telephony.ListQueues)
	if err != nil {
		return nil, err
	}
	live := s.liveQueues()
	out := make([]Queue, len(qs))
	for i, q := range qs {
		out[i] = Queue{Queue: q, Live: live[q.Name]}
	}
	return out, nil
}

// MemberInput is a queue member as a request gives it: windows as text
// ("mon-fri 08:00-18:00"); priority 0 is 1.
type MemberInput struct {
	User     string
	Priority int
	Windows  []string
}

// AddMember adds a user to a queue, or changes their membership.
func (s *Telephony) AddMember(ctx context.Context, c app.Caller, queue string, in MemberInput) (Queue, error) {
	if err := c.Require(access.TelephonyAdmin); err != nil {
		return Queue{}, err
	}
	m := telephony.Member{User: in.User, Priority: in.Priority}
	if m.Priority == 0 {
		m.Priority = 1
	}
	if len(in.Windows) > 16 {
		return Queue{}, fault.Invalidf("windows", "too_many", "at most 16")
	}
	for _, w := range in.Windows {
		pw, err := telephony.ParseWindow(w)
		if err != nil {
			return Queue{}, err
		}
		m.Windows = append(m.Windows, pw)
	}
	if err := s.change(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.AddMember(views, queue, m))
	}); err != nil {
		return Queue{}, err
	}
	return s.queue(queue)
}

// RemoveMember takes a user out of a queue.
func (s *Telephony) RemoveMember(ctx context.Context, c app.Caller, queue, user string) (Queue, error) {
	if err := s.change(ctx, c, func(views replication.Tx) ([]replication.Draft, error) {
		return app.One(telephony.RemoveMember(views, queue, user))
	}); err != nil {
		return Queue{}, err
	}
	return s.queue(queue)
}
