package telephony

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
)

// Event kinds of callback tasks.
const (
	KindCallbackCreated  = "telephony.callback.created"
	KindCallbackAssigned = "telephony.callback.assigned"
	KindCallbackDone     = "telephony.callback.done"
)

// Reasons a callback is created.
const (
	ReasonAbandoned = "abandoned"
	ReasonMaxWait   = "max_wait"
	ReasonNoAgent   = "no_agent"
	ReasonManual    = "manual"
)

var callbackReasons = []string{ReasonAbandoned, ReasonMaxWait, ReasonNoAgent, ReasonManual}

// Callback states, decided by precedence: done beats assigned beats open.
const (
	CallbackOpen     = "open"
	CallbackAssigned = "assigned"
	CallbackDone     = "done"
)

// Callback is a task to call a customer back (呼损回呼).
type Callback struct {
	ID         string
	Number     string
	Call       string // call record id
	Queue      string
	Reason     string
	Created    time.Time
	Status     string
	Agent      string
	AssignedBy string
	assignedAt replication.Stamp
	DoneBy     string
	Done       time.Time
	Note       string
	doneAt     replication.Stamp
	// Conflict says someone assigned the callback after another node had
	// recorded it done: the assignment lost and is shown, not dropped.
	Conflict bool
	Origin   string
}

// CallbackEntity is the entity of callback id.
func CallbackEntity(id string) string { return "callback/" + id }

// Views:
//
//	tel \0 cb \0 id           -> CallbackCreated proto (plus origin) as a register
//	tel \0 cba \0 id          -> register: agent \0 actor
//	tel \0 cbd \0 id          -> register: note \0 actor
//	tel \0 cbopen \0 id       -> "" while not done
//	tel \0 cbmine \0 agent \0 id -> "" for the winning assignment
//	tel \0 cbnum \0 digits \0 id -> "" (number index: record_number.go)
func cbKey(id string) []byte       { return replication.Key("tel", "cb", id) }
func cbAssignKey(id string) []byte { return replication.Key("tel", "cba", id) }
func cbDoneKey(id string) []byte   { return replication.Key("tel", "cbd", id) }
func cbOpenKey(id string) []byte   { return replication.Key("tel", "cbopen", id) }
func cbMineKey(agent, id string) []byte {
	return replication.Key("tel", "cbmine", agent, id)
}

var (
	cbPrefix     = replication.Prefix("tel", "cb")
	cbOpenPrefix = replication.Prefix("tel", "cbopen")
)

// CreateCallback decides the event creating callback id (a new ULID) to
// number, for call record call.
func CreateCallback(id, number, call, queue, reason string, at time.Time) (replication.Draft, error) {
	b := &telv1.CallbackCreated{Number: number, Call: call, Queue: queue, Reason: reason, CreateMs: ms(at)}
	if !replication.ValidULID(id) {
		return replication.Draft{}, fault.Invalidf("id", "bad_id", "%q is not a callback id", id)
	}
	if err := checkCallbackBody(b); err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindCallbackCreated, Entity: CallbackEntity(id), Body: b}, nil
}

func checkCallbackBody(b *telv1.CallbackCreated) error {
	switch {
	case b.GetNumber() == "" || len(b.GetNumber()) > 64 || strings.ContainsAny(b.GetNumber(), "\x00\r\n"):
		return fault.Invalidf("number", "bad_number", "a callback needs a number")
	case b.GetCall() != "" && !replication.ValidULID(b.GetCall()):
		return fault.Invalidf("call", "bad_id", "%q is not a call id", b.GetCall())
	case b.GetQueue() != "" && !ValidName(b.GetQueue()):
		return fault.Invalidf("queue", "bad_name", "%q is not a queue", b.GetQueue())
	case !slices.Contains(callbackReasons, b.GetReason()):
		return fault.Invalidf("reason", "bad_reason", "%q is not a reason", b.GetReason())
	case b.GetCreateMs() <= 0:
		return fault.Invalidf("create_ms", "required", "is required")
	}
	return nil
}

// AssignCallback decides the event giving callback id to agent.
func AssignCallback(views replication.Tx, id, agent string) (replication.Draft, error) {
	if !ValidUser(agent) {
		return replication.Draft{}, fault.Invalidf("agent", "bad_user", "%q is not a user name", agent)
	}
	cb, err := GetCallback(views, id)
	if err != nil {
		return replication.Draft{}, err
	}
	if cb.Status == CallbackDone {
		return replication.Draft{}, fmt.Errorf("callback %s is done: %w", id, fault.ErrConflict)
	}
	return replication.Draft{Kind: KindCallbackAssigned, Entity: CallbackEntity(id), Body: &telv1.CallbackAssigned{Agent: agent}}, nil
}

// CompleteCallback decides the event marking callback id done.
func CompleteCallback(views replication.Tx, id, note string) (replication.Draft, error) {
	if utf8.RuneCountInString(note) > 500 || !utf8.ValidString(note) || strings.ContainsRune(note, 0) {
		return replication.Draft{}, fault.Invalidf("note", "too_long", "at most 500 characters")
	}
	cb, err := GetCallback(views, id)
	if err != nil {
		return replication.Draft{}, err
	}
	if cb.Status == CallbackDone {
		return replication.Draft{}, fmt.Errorf("callback %s is done: %w", id, fault.ErrConflict)
	}
	return replication.Draft{Kind: KindCallbackDone, Entity: CallbackEntity(id), Body: &telv1.CallbackDone{Note: note}}, nil
}

func cbID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "callback/")
	return id, ok && replication.ValidULID(id)
}

func checkCallbackCreated(ev *replication.Event, b *telv1.CallbackCreated) error {
	if _, ok := cbID(ev); !ok {
		return fmt.Errorf("entity %q is not a callback", ev.Entity)
	}
	return checkCallbackBody(b)
}

func applyCallbackCreated(tx replication.Tx, ev *replication.Event, b *telv1.CallbackCreated) error {
	id, ok := cbID(ev)
	if !ok {
		return nil
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return err
	}
	won, prev, err := replication.SetRegister(tx, cbKey(id), enc, replication.StampOf(ev))
	if err != nil {
		return err
	}
	if won {
		var old telv1.CallbackCreated
		if len(prev.Value) > 0 && proto.Unmarshal(prev.Value, &old) == nil {
			if d := NumberKey(old.GetNumber()); d != "" {
				if err := tx.Delete(cbNumKey(d, id)); err != nil {
					return err
				}
			}
		}
		if d := NumberKey(b.GetNumber()); d != "" {
			if err := tx.Set(cbNumKey(d, id), nil); err != nil {
				return err
			}
		}
	}
	if _, done, err := replication.GetRegister(tx, cbDoneKey(id)); err != nil || done {
		return err
	}
	return tx.Set(cbOpenKey(id), nil)
}

func checkCallbackAssigned(ev *replication.Event, b *telv1.CallbackAssigned) error {
	if _, ok := cbID(ev); !ok {
		return fmt.Errorf("entity %q is not a callback", ev.Entity)
	}
	if !ValidUser(b.GetAgent()) {
		return fault.Invalidf("agent", "bad_user", "%q is not a user name", b.GetAgent())
	}
	return nil
}

func applyCallbackAssigned(tx replication.Tx, ev *replication.Event, b *telv1.CallbackAssigned) error {
	id, ok := cbID(ev)
	if !ok || !ValidUser(b.GetAgent()) {
		return nil
	}
	won, prev, err := replication.SetRegister(tx, cbAssignKey(id), []byte(b.GetAgent()+"\x00"+ev.Actor), replication.StampOf(ev))
	if err != nil || !won {
		return err
	}
	if len(prev.Value) > 0 {
		old, _, _ := bytes.Cut(prev.Value, []byte{0})
		if err := tx.Delete(cbMineKey(string(old), id)); err != nil {
			return err
		}
	}
	return tx.Set(cbMineKey(b.GetAgent(), id), nil)
}

func checkCallbackDone(ev *replication.Event, b *telv1.CallbackDone) error {
	if _, ok := cbID(ev); !ok {
		return fmt.Errorf("entity %q is not a callback", ev.Entity)
	}
	if utf8.RuneCountInString(b.GetNote()) > 500 {
		return fault.Invalidf("note", "too_long", "at most 500 characters")
	}
	return nil
}

func applyCallbackDone(tx replication.Tx, ev *replication.Event, b *telv1.CallbackDone) error {
	id, ok := cbID(ev)
	if !ok {
		return nil
	}
	if _, _, err := replication.SetRegister(tx, cbDoneKey(id), []byte(b.GetNote()+"\x00"+ev.Actor), replication.StampOf(ev)); err != nil {
		return err
	}
	return tx.Delete(cbOpenKey(id))
}

// GetCallback reads callback id.
func GetCallback(views replication.Tx, id string) (*Callback, error) {
	reg, ok, err := replication.GetRegister(views, cbKey(id))
	if err != nil {
		return nil, err
	}
	if !ok || !replication.ValidULID(id) {
		return nil, fmt.Errorf("callback %s: %w", id, fault.ErrNotFound)
	}
	var b telv1.CallbackCreated
	if err := proto.Unmarshal(reg.Value, &b); err != nil {
		return nil, fmt.Errorf("callback %s: %w", id, err)
	}
	cb := &Callback{ID: id, Number: b.GetNumber(), Call: b.GetCall(), Queue: b.GetQueue(), Reason: b.GetReason(),
		Created: fromMs(b.GetCreateMs()), Status: CallbackOpen, Origin: reg.Stamp.Origin}
	if a, ok, err := replication.GetRegister(views, cbAssignKey(id)); err != nil {
		return nil, err
	} else if ok {
		agent, by, _ := bytes.Cut(a.Value, []byte{0})
		cb.Agent, cb.AssignedBy, cb.assignedAt, cb.Status = string(agent), string(by), a.Stamp, CallbackAssigned
	}
	if d, ok, err := replication.GetRegister(views, cbDoneKey(id)); err != nil {
		return nil, err
	} else if ok {
		note, by, _ := bytes.Cut(d.Value, []byte{0})
		cb.Note, cb.DoneBy, cb.doneAt, cb.Status = string(note), string(by), d.Stamp, CallbackDone
		cb.Done = d.Stamp.HLC.Time()
		cb.Conflict = cb.Agent != "" && cb.assignedAt.After(d.Stamp)
	}
	return cb, nil
}

// ListCallbacks returns up to limit callbacks, newest first: open ones
// (open or assigned) when openOnly, else all.
func ListCallbacks(views replication.Tx, openOnly bool, limit int) ([]*Callback, error) {
	prefix := cbPrefix
	if openOnly {
		prefix = cbOpenPrefix
	}
	var ids []string
	err := views.Scan(prefix, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k[len(prefix):]))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(ids) // ULIDs sort by creation time
	var out []*Callback
	for _, id := range ids {
		if len(out) >= limit {
			break
		}
		cb, err := GetCallback(views, id)
		if err != nil {
			return nil, err
		}
		out = append(out, cb)
	}
	return out, nil
}

// CallbacksOf returns the callbacks assigned to agent, newest first.
func CallbacksOf(views replication.Tx, agent string, limit int) ([]*Callback, error) {
	p := replication.Prefix("tel", "cbmine", agent)
	var ids []string
	err := views.Scan(p, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k[len(p):]))
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(ids)
	var out []*Callback
	for _, id := range ids {
		if len(out) >= limit {
			break
		}
		cb, err := GetCallback(views, id)
		if err != nil {
			return nil, err
		}
		out = append(out, cb)
	}
	return out, nil
}
