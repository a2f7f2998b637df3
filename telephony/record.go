package telephony

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
)

// Event kinds of call records.
const (
	KindCallEnded   = "telephony.call.ended"
	KindWrapUpEnded = "telephony.call.wrap_up_ended"
)

// Disposition is how a call ended.
type Disposition string

// Dispositions. Overflowed is not written into records: a record holds the
// call's final outcome and the queue it overflowed from, and per-queue
// figures classify it as overflowed for that first queue (see
// Record.DispositionIn).
const (
	Answered    Disposition = "answered"
	Abandoned   Disposition = "abandoned"    // the caller hung up before an agent answered
	Rejected    Disposition = "rejected"     // refused at the door: unknown source, no route, bad request
	Overflowed  Disposition = "overflowed"   // left this queue for its overflow queue
	NoAgent     Disposition = "no_agent"     // released without an agent: none logged in, or the maximum wait passed
	Blacklisted Disposition = "blacklisted"  // refused by the blacklist (603)
	NotAnswered Disposition = "not_answered" // an outbound, internal or direct call the callee did not answer
)

var recordDispositions = []Disposition{Answered, Abandoned, Rejected, NoAgent, Blacklisted, NotAnswered}

// Directions of calls.
const (
	Inbound  = "inbound"
	Outbound = "outbound"
	Internal = "internal"
)

// Who hung up.
const (
	ByCaller = "caller"
	ByAgent  = "agent"
	BySystem = "system"
)

// Record is a call detail record (话单). Times are zero when the step did
// not happen.
type Record struct {
	ID         string
	SIPCallID  string
	Direction  string
	Caller     string
	DID        string
	Trunk      string
	Queue      string
	FirstQueue string // the queue it arrived in, when it overflowed
	Agent      string
	Extension  string
	Arrive     time.Time
	Ring       time.Time
	Answer     time.Time
	End        time.Time
	// WrapUp is the agent's after-call work, known once it ended.
	WrapUp      time.Duration
	Disposition Disposition
	HangupBy    string
	Cause       string
	Priority    int
	Warned      bool
	Attempts    int
	Origin      string // node that handled the call
}

// Wait is the time from arrival to answer, or to the end for calls not
// answered.
func (r *Record) Wait() time.Duration {
	if !r.Answer.IsZero() {
		return r.Answer.Sub(r.Arrive)
	}
	if r.End.IsZero() {
		return 0
	}
	return r.End.Sub(r.Arrive)
}

// Talk is the time from answer to the end.
func (r *Record) Talk() time.Duration {
	if r.Answer.IsZero() || r.End.IsZero() {
		return 0
	}
	return r.End.Sub(r.Answer)
}

// DispositionIn is how the call ended as far as queue is concerned:
// Overflowed for the queue it overflowed from.
func (r *Record) DispositionIn(queue string) Disposition {
	if r.FirstQueue == queue && r.Queue != queue {
		return Overflowed
	}
	return r.Disposition
}

// Party is the number of a call's party outside: the caller of an
// inbound call, the number dialled (its did) of an outbound one; "" for an
// internal call, whose parties are both extensions. It is what calling
// back dials, and what readers who may not see phone numbers see masked.
func Party(direction, caller, did string) string {
	switch direction {
	case Inbound:
		return caller
	case Outbound:
		return did
	}
	return ""
}

// Party is the number of the call's party outside (Party).
func (r *Record) Party() string { return Party(r.Direction, r.Caller, r.DID) }

// CallEntity is the entity of call record id.
func CallEntity(id string) string { return "call/" + id }

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMs(v int64) time.Time {
	if v <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

const maxRecordText = 128

// EndCall decides the event recording call r, whose ID is a new ULID.
func EndCall(r *Record) (replication.Draft, error) {
	body := &telv1.CallEnded{
		SipCallId: r.SIPCallID, Direction: r.Direction, Caller: r.Caller, Did: r.DID, Trunk: r.Trunk,
		Queue: r.Queue, FirstQueue: r.FirstQueue, Agent: r.Agent, Extension: r.Extension,
		ArriveMs: ms(r.Arrive), RingMs: ms(r.Ring), AnswerMs: ms(r.Answer), EndMs: ms(r.End),
		Disposition: string(r.Disposition), HangupBy: r.HangupBy, Cause: r.Cause,
		Priority: int32(r.Priority), Warned: r.Warned, Attempts: int32(r.Attempts),
	}
	if !replication.ValidULID(r.ID) {
		return replication.Draft{}, fault.Invalidf("id", "bad_id", "%q is not a call id", r.ID)
	}
	if err := checkCallBody(body); err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindCallEnded, Entity: CallEntity(r.ID), Body: body}, nil
}

// EndWrapUp decides the event recording that the agent's after-call work
// on call id took d.
func EndWrapUp(views replication.Tx, id string, d time.Duration) (replication.Draft, error) {
	if _, err := GetRecord(views, id); err != nil {
		return replication.Draft{}, err
	}
	if d < 0 {
		d = 0
	}
	return replication.Draft{Kind: KindWrapUpEnded, Entity: CallEntity(id),
		Body: &telv1.WrapUpEnded{Secs: int32(min(d, maxQueueSecs*time.Second) / time.Second)}}, nil
}

func checkCallBody(b *telv1.CallEnded) error {
	for name, v := range map[string]string{
		"sip_call_id": b.GetSipCallId(), "caller": b.GetCaller(), "did": b.GetDid(), "trunk": b.GetTrunk(),
		"queue": b.GetQueue(), "first_queue": b.GetFirstQueue(), "agent": b.GetAgent(),
		"extension": b.GetExtension(), "hangup_by": b.GetHangupBy(), "cause": b.GetCause(),
	} {
		if len(v) > maxRecordText || strings.ContainsAny(v, "\x00\r\n") {
			return fault.Invalidf(name, "bad_text", "at most %d bytes on one line", maxRecordText)
		}
	}
	if !slices.Contains(recordDispositions, Disposition(b.GetDisposition())) {
		return fault.Invalidf("disposition", "bad_disposition", "%q is not a disposition", b.GetDisposition())
	}
	switch b.GetDirection() {
	case Inbound, Outbound, Internal:
	default:
		return fault.Invalidf("direction", "bad_direction", "%q is not a direction", b.GetDirection())
	}
	if b.GetArriveMs() <= 0 || b.GetEndMs() < b.GetArriveMs() {
		return fault.Invalidf("end_ms", "bad_times", "a call ends after it arrives")
	}
	if a := b.GetAnswerMs(); a != 0 && (a < b.GetArriveMs() || a > b.GetEndMs()) {
		return fault.Invalidf("answer_ms", "bad_times", "answered outside the call")
	}
	return nil
}

func callID(ev *replication.Event) (string, bool) {
	id, ok := strings.CutPrefix(ev.Entity, "call/")
	return id, ok && replication.ValidULID(id)
}

// Views:
//
//	tel \0 rec \0 id                 -> register: CallEnded proto (one per call)
//	tel \0 rtime \0 arrive(16 hex) \0 id -> ""   (time index)
//	tel \0 rnum \0 digits \0 arrive(16 hex) \0 id -> ""   (number index: record_number.go)
//	tel \0 wrap \0 id                -> register: wrap-up seconds
//	tel \0 last \0 caller            -> register(stamped by answer time): agent
func recKey(id string) []byte  { return replication.Key("tel", "rec", id) }
func wrapKey(id string) []byte { return replication.Key("tel", "wrap", id) }
func lastKey(caller string) []byte {
	return replication.Key("tel", "last", caller)
}

var recTimePrefix = replication.Prefix("tel", "rtime")

func recTimeKey(arriveMs int64, id string) []byte {
	return replication.Key("tel", "rtime", fmt.Sprintf("%016x", uint64(arriveMs)), id)
}

func checkCallEnded(ev *replication.Event, b *telv1.CallEnded) error {
	if _, ok := callID(ev); !ok {
		return fmt.Errorf("entity %q is not a call", ev.Entity)
	}
	return checkCallBody(b)
}

// applyCallEnded stores the record. A call has one record; should a
// second event for the same id ever exist, the later stamp wins, with the
// time index following it.
func applyCallEnded(tx replication.Tx, ev *replication.Event, b *telv1.CallEnded) error {
	id, ok := callID(ev)
	if !ok {
		return nil
	}
	enc, err := proto.MarshalOptions{Deterministic: true}.Marshal(b)
	if err != nil {
		return err
	}
	won, prev, err := replication.SetRegister(tx, recKey(id), enc, replication.StampOf(ev))
	if err != nil {
		return err
	}
	if won {
		if len(prev.Value) > 0 {
			var old telv1.CallEnded
			if proto.Unmarshal(prev.Value, &old) == nil {
				if err := tx.Delete(recTimeKey(old.GetArriveMs(), id)); err != nil {
					return err
				}
				if err := deleteNumberEntry(tx, &old, id); err != nil {
					return err
				}
			}
		}
		if err := tx.Set(recTimeKey(b.GetArriveMs(), id), nil); err != nil {
			return err
		}
		// The number index: one more key per record, written blind (the
		// register's previous value, read anyway, says what to remove).
		if err := setNumberEntry(tx, b, id); err != nil {
			return err
		}
	}
	if b.GetDisposition() == string(Answered) && b.GetAgent() != "" && b.GetCaller() != "" {
		// Ordered by when the call was answered, not by when the event was
		// made, so the agent who served the caller most recently wins at
		// every replica.
		s := replication.Stamp{HLC: replication.MakeHLC(b.GetAnswerMs(), 0), Origin: ev.Origin + "/" + id}
		if _, _, err := replication.SetRegister(tx, lastKey(b.GetCaller()), []byte(b.GetAgent()), s); err != nil {
			return err
		}
	}
	return nil
}

func checkWrapUp(ev *replication.Event, b *telv1.WrapUpEnded) error {
	if _, ok := callID(ev); !ok {
		return fmt.Errorf("entity %q is not a call", ev.Entity)
	}
	if b.GetSecs() < 0 || b.GetSecs() > maxQueueSecs {
		return fault.Invalidf("secs", "bad_secs", "0 to %d", maxQueueSecs)
	}
	return nil
}

func applyWrapUp(tx replication.Tx, ev *replication.Event, b *telv1.WrapUpEnded) error {
	id, ok := callID(ev)
	if !ok {
		return nil
	}
	_, _, err := replication.SetRegister(tx, wrapKey(id), []byte(strconv.Itoa(int(b.GetSecs()))), replication.StampOf(ev))
	return err
}

func recordFrom(id string, reg replication.Register) (*Record, error) {
	var b telv1.CallEnded
	if err := proto.Unmarshal(reg.Value, &b); err != nil {
		return nil, fmt.Errorf("call record %s: %w", id, err)
	}
	return &Record{
		ID: id, SIPCallID: b.GetSipCallId(), Direction: b.GetDirection(), Caller: b.GetCaller(),
		DID: b.GetDid(), Trunk: b.GetTrunk(), Queue: b.GetQueue(), FirstQueue: b.GetFirstQueue(),
		Agent: b.GetAgent(), Extension: b.GetExtension(), Arrive: fromMs(b.GetArriveMs()),
		Ring: fromMs(b.GetRingMs()), Answer: fromMs(b.GetAnswerMs()), End: fromMs(b.GetEndMs()),
		Disposition: Disposition(b.GetDisposition()), HangupBy: b.GetHangupBy(), Cause: b.GetCause(),
		Priority: int(b.GetPriority()), Warned: b.GetWarned(), Attempts: int(b.GetAttempts()),
		Origin: reg.Stamp.Origin,
	}, nil
}

func (r *Record) loadWrapUp(views replication.Tx) error {
	reg, ok, err := replication.GetRegister(views, wrapKey(r.ID))
	if err != nil || !ok {
		return err
	}
	n, _ := strconv.Atoi(string(reg.Value))
	r.WrapUp = time.Duration(n) * time.Second
	return nil
}

// GetRecord reads call record id.
func GetRecord(views replication.Tx, id string) (*Record, error) {
	reg, ok, err := replication.GetRegister(views, recKey(id))
	if err != nil {
		return nil, err
	}
	if !ok || !replication.ValidULID(id) {
		return nil, fmt.Errorf("call %s: %w", id, fault.ErrNotFound)
	}
	r, err := recordFrom(id, reg)
	if err != nil {
		return nil, err
	}
	return r, r.loadWrapUp(views)
}

// Records calls fn for the records of calls that arrived in [from, to),
// newest first when desc, oldest first otherwise; fn returns false to stop.
func Records(views replication.Tx, from, to time.Time, desc bool, fn func(*Record) bool) error {
	var ids []string
	start := recTimeKey(ms(from), "")
	end := ms(to)
	err := views.Scan(recTimePrefix, start[:len(start)-1], func(k, _ []byte) (bool, error) {
		rest := string(k[len(recTimePrefix):])
		ts, id, ok := strings.Cut(rest, "\x00")
		if !ok {
			return false, fmt.Errorf("bad record index key %q", k)
		}
		v, err := strconv.ParseUint(ts, 16, 64)
		if err != nil {
			return false, err
		}
		if int64(v) >= end {
			return false, nil
		}
		ids = append(ids, id)
		return true, nil
	})
	if err != nil {
		return err
	}
	if desc {
		slices.Reverse(ids)
	}
	for _, id := range ids {
		r, err := GetRecord(views, id)
		if errors.Is(err, fault.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !fn(r) {
			return nil
		}
	}
	return nil
}

// LastAgent returns the agent who most recently answered a call from
// caller, for the caller-based strategy.
func LastAgent(views replication.Tx, caller string) (string, error) {
	if caller == "" {
		return "", nil
	}
	reg, ok, err := replication.GetRegister(views, lastKey(caller))
	if err != nil || !ok {
		return "", err
	}
	return string(reg.Value), nil
}
