package telephony

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
)

// Strategy is how a queue picks the agent to ring.
type Strategy string

// The ACD strategies of the source documents (线性、循环、最少接答、最大空闲、
// 优先级、主叫号码).
const (
	TopDown        Strategy = "top_down"        // always hunt from the first member down
	RoundRobin     Strategy = "round_robin"     // start after the agent offered last
	FewestAnswered Strategy = "fewest_answered" // fewest calls answered today
	LongestIdle    Strategy = "longest_idle"    // idle the longest
	PriorityFirst  Strategy = "priority"        // best member priority, then longest idle
	CallerBased    Strategy = "caller_based"    // the agent who served the caller last, else Fallback
)

// Strategies lists every strategy.
var Strategies = []Strategy{TopDown, RoundRobin, FewestAnswered, LongestIdle, PriorityFirst, CallerBased}

// Queue defaults and bounds.
const (
	DefaultRingTimeout  = 15 * time.Second
	DefaultMaxWait      = 5 * time.Minute
	DefaultServiceLevel = 20 * time.Second
	// DefaultNoAnswerPause is how long an agent who let an offer ring out
	// stays not ready, when the queue does not say.
	DefaultNoAnswerPause = 30 * time.Second
	maxQueueSecs         = 24 * 3600
)

// ManualPause, as a queue's NoAnswerPause, keeps an agent who let an offer
// ring out not ready until the agent or a supervisor makes them ready.
const ManualPause time.Duration = -1

// Queue is an ACD queue (技能组). Durations are whole seconds.
type Queue struct {
	Name          string
	DisplayName   string
	Strategy      Strategy
	Fallback      Strategy // for CallerBased; LongestIdle when empty
	RingTimeout   time.Duration
	WrapUp        time.Duration
	OverflowQueue string
	// OverflowAfter moves a waiting call to OverflowQueue; zero moves it at
	// once when no member is ready.
	OverflowAfter time.Duration
	MaxWait       time.Duration
	DIDs          []string
	ServiceLevel  time.Duration
	// NoAnswerPause is how long an agent who let an offer of this queue
	// ring out (or whose phone declined it) stays not ready before the
	// ACD makes them ready again; ManualPause until someone does; zero
	// for DefaultNoAnswerPause.
	NoAnswerPause time.Duration
	Members       []Member
}

// Member is an agent's membership of a queue.
type Member struct {
	User     string
	Priority int // 1 first
	Windows  []Window
}

var queueKind = &configKind{
	name: "queue", validID: ValidName, idField: "name",
	fields: map[string]func(string) (string, error){
		"display_name":     textCheck("display_name", 64),
		"strategy":         strategyCheck("strategy"),
		"fallback":         strategyCheck("fallback"),
		"ring_timeout_s":   secsCheck("ring_timeout_secs"),
		"wrap_up_s":        secsCheck("wrap_up_secs"),
		"overflow_queue":   nameCheck("overflow_queue"),
		"overflow_after_s": secsCheck("overflow_after_secs"),
		"max_wait_s":       secsCheck("max_wait_secs"),
		"dids":             numbersCheck("dids"),
		"service_level_s":  secsCheck("service_level_secs"),
		"no_answer_pause":  pauseCheck("no_answer_pause"),
	},
}

// QueueEntity is the entity of queue name.
func QueueEntity(name string) string { return queueKind.entity(name) }

func strategyCheck(field string) func(string) (string, error) {
	return func(v string) (string, error) {
		if v == "" || slices.Contains(Strategies, Strategy(v)) {
			return v, nil
		}
		return "", fault.Invalidf(field, "bad_strategy", "%q is not a strategy", v)
	}
}

func secsCheck(field string) func(string) (string, error) {
	return func(v string) (string, error) {
		if v == "" {
			return "", nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxQueueSecs {
			return "", fault.Invalidf(field, "bad_secs", "%q is not 0 to %d seconds", v, maxQueueSecs)
		}
		return strconv.Itoa(n), nil
	}
}

// pauseCheck accepts "manual" or whole seconds.
func pauseCheck(field string) func(string) (string, error) {
	secs := secsCheck(field)
	return func(v string) (string, error) {
		if v == "manual" {
			return v, nil
		}
		return secs(v)
	}
}

// FormatPause is the text of a no-answer pause: "manual", whole seconds,
// or "" for the default.
func FormatPause(d time.Duration) string {
	if d == ManualPause {
		return "manual"
	}
	return secs(d)
}

// ParsePause reads the text of a no-answer pause (see FormatPause).
func ParsePause(v string) (time.Duration, error) {
	v, err := pauseCheck("no_answer_pause")(strings.TrimSpace(v))
	if err != nil {
		return 0, err
	}
	return parsePause(v), nil
}

func parsePause(v string) time.Duration {
	if v == "manual" {
		return ManualPause
	}
	return atoiSecs(v)
}

func nameCheck(field string) func(string) (string, error) {
	return func(v string) (string, error) {
		if v != "" && !ValidName(v) {
			return "", fault.Invalidf(field, "bad_name", "%q is not a queue name", v)
		}
		return v, nil
	}
}

func secs(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return strconv.Itoa(int(d / time.Second))
}

// Validate checks a queue's settings as a whole.
func (q *Queue) Validate() error {
	switch {
	case !ValidName(q.Name):
		return fault.Invalidf("name", "bad_name", "%q is not a queue name", q.Name)
	case q.Strategy == "":
		return fault.Invalidf("strategy", "required", "is required")
	case q.Fallback == CallerBased:
		return fault.Invalidf("fallback", "bad_strategy", "caller_based needs another strategy to fall back to")
	case q.OverflowQueue == q.Name:
		return fault.Invalidf("overflow_queue", "self", "a queue cannot overflow to itself")
	case q.OverflowAfter > 0 && q.OverflowQueue == "":
		return fault.Invalidf("overflow_queue", "required", "overflow after a wait needs a queue")
	case q.RingTimeout < 0 || q.WrapUp < 0 || q.OverflowAfter < 0 || q.MaxWait < 0 || q.ServiceLevel < 0:
		return fault.Invalidf("queue", "negative", "durations must not be negative")
	case q.NoAnswerPause < 0 && q.NoAnswerPause != ManualPause:
		return fault.Invalidf("no_answer_pause", "negative", "a pause is seconds or manual")
	}
	for _, d := range []time.Duration{q.RingTimeout, q.WrapUp, q.OverflowAfter, q.MaxWait, q.ServiceLevel, max(q.NoAnswerPause, 0)} {
		if d > maxQueueSecs*time.Second || d%time.Second != 0 {
			return fault.Invalidf("queue", "bad_secs", "durations are whole seconds up to a day")
		}
	}
	return nil
}

// SetQueue decides the event that creates or updates queue q's settings
// (not its members). The overflow queue must exist, and following
// overflows must not come back to q.
func SetQueue(views replication.Tx, q Queue) (replication.Draft, error) {
	if err := q.Validate(); err != nil {
		return replication.Draft{}, err
	}
	if q.OverflowQueue != "" {
		seen := map[string]bool{q.Name: true}
		for next := q.OverflowQueue; next != ""; {
			if seen[next] {
				return replication.Draft{}, fault.Invalidf("overflow_queue", "loop", "overflow from %s comes back to %s", q.OverflowQueue, next)
			}
			seen[next] = true
			o, ok, err := GetQueue(views, next)
			if err != nil {
				return replication.Draft{}, err
			}
			if !ok {
				return replication.Draft{}, fault.Invalidf("overflow_queue", "not_found", "no queue %q", next)
			}
			next = o.OverflowQueue
		}
	}
	return queueKind.set(q.Name, map[string]string{
		"display_name": q.DisplayName, "strategy": string(q.Strategy), "fallback": string(q.Fallback),
		"ring_timeout_s": secs(q.RingTimeout), "wrap_up_s": secs(q.WrapUp),
		"overflow_queue": q.OverflowQueue, "overflow_after_s": secs(q.OverflowAfter),
		"max_wait_s": secs(q.MaxWait), "dids": strings.Join(q.DIDs, ","),
		"service_level_s": secs(q.ServiceLevel), "no_answer_pause": FormatPause(q.NoAnswerPause),
	})
}

// RemoveQueue decides the event that removes queue name.
func RemoveQueue(views replication.Tx, name string) (replication.Draft, error) {
	return queueKind.remove(views, name)
}

func atoiSecs(v string) time.Duration {
	n, _ := strconv.Atoi(v)
	return time.Duration(n) * time.Second
}

func queueFrom(name string, f map[string]string) Queue {
	return Queue{
		Name: name, DisplayName: f["display_name"], Strategy: Strategy(f["strategy"]),
		Fallback: Strategy(f["fallback"]), RingTimeout: atoiSecs(f["ring_timeout_s"]),
		WrapUp: atoiSecs(f["wrap_up_s"]), OverflowQueue: f["overflow_queue"],
		OverflowAfter: atoiSecs(f["overflow_after_s"]), MaxWait: atoiSecs(f["max_wait_s"]),
		DIDs: splitList(f["dids"]), ServiceLevel: atoiSecs(f["service_level_s"]),
		NoAnswerPause: parsePause(f["no_answer_pause"]),
	}
}

// Effective returns q with defaults filled in: what the ACD runs with.
func (q Queue) Effective() Queue {
	if q.Strategy == "" {
		q.Strategy = LongestIdle
	}
	if q.Fallback == "" || q.Fallback == CallerBased {
		q.Fallback = LongestIdle
	}
	if q.RingTimeout <= 0 {
		q.RingTimeout = DefaultRingTimeout
	}
	if q.MaxWait <= 0 {
		q.MaxWait = DefaultMaxWait
	}
	if q.ServiceLevel <= 0 {
		q.ServiceLevel = DefaultServiceLevel
	}
	if q.NoAnswerPause == 0 {
		q.NoAnswerPause = DefaultNoAnswerPause
	}
	return q
}

// GetQueue reads queue name with its members.
func GetQueue(views replication.Tx, name string) (Queue, bool, error) {
	f, ok, err := queueKind.get(views, name)
	if !ok || err != nil {
		return Queue{}, false, err
	}
	q := queueFrom(name, f)
	q.Members, err = members(views, name)
	return q, true, err
}

// ListQueues reads every queue with its members, in name order.
func ListQueues(views replication.Tx) ([]Queue, error) {
	ids, all, err := queueKind.list(views)
	if err != nil {
		return nil, err
	}
	out := make([]Queue, len(ids))
	for i, id := range ids {
		out[i] = queueFrom(id, all[i])
		if out[i].Members, err = members(views, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// QueueForDID finds the queue that number is routed to.
func QueueForDID(views replication.Tx, number string) (Queue, bool, error) {
	qs, err := ListQueues(views)
	if err != nil {
		return Queue{}, false, err
	}
	for _, q := range qs {
		if slices.Contains(q.DIDs, number) {
			return q, true, nil
		}
	}
	return Queue{}, false, nil
}

// Queue membership is an add-wins set per queue; each add also writes the
// member's priority and windows as registers, so re-adding a member with
// a new priority updates it.
//
//	tel \0 mem \0 queue \0 a|r \0 user \0 tag   (replication set)
//	tel \0 mattr \0 queue \0 user \0 priority|windows -> register
const (
	KindMemberAdded   = "telephony.queue.member_added"
	KindMemberRemoved = "telephony.queue.member_removed"
)

func memberSet(queue string) string { return "tel\x00mem\x00" + queue }
func memberAttrKey(queue, user, attr string) []byte {
	return replication.Key("tel", "mattr", queue, user, attr)
}

// AddMember decides the event that adds m to queue, which must exist.
func AddMember(views replication.Tx, queue string, m Member) (replication.Draft, error) {
	if !ValidUser(m.User) {
		return replication.Draft{}, fault.Invalidf("user", "bad_user", "%q is not a user name", m.User)
	}
	if m.Priority < 1 || m.Priority > 99 {
		return replication.Draft{}, fault.Invalidf("priority", "bad_priority", "1 to 99")
	}
	if len(m.Windows) > 16 {
		return replication.Draft{}, fault.Invalidf("windows", "too_many", "at most 16")
	}
	if _, ok, err := queueKind.get(views, queue); err != nil {
		return replication.Draft{}, err
	} else if !ok {
		return replication.Draft{}, fmt.Errorf("queue %s: %w", queue, fault.ErrNotFound)
	}
	ws := make([]string, len(m.Windows))
	for i, w := range m.Windows {
		ws[i] = w.String()
	}
	return replication.Draft{Kind: KindMemberAdded, Entity: QueueEntity(queue),
		Body: &telv1.MemberAdded{User: m.User, Priority: int32(m.Priority), Windows: ws}}, nil
}

// RemoveMember decides the event that removes user from queue.
func RemoveMember(views replication.Tx, queue, user string) (replication.Draft, error) {
	tags, err := replication.SetTags(views, memberSet(queue), user)
	if err != nil {
		return replication.Draft{}, err
	}
	if len(tags) == 0 || !ValidName(queue) {
		return replication.Draft{}, fmt.Errorf("member %s of queue %s: %w", user, queue, fault.ErrNotFound)
	}
	obs := make([]*telv1.Tag, len(tags))
	for i, t := range tags {
		obs[i] = &telv1.Tag{Origin: t.Origin, Seq: t.Seq}
	}
	return replication.Draft{Kind: KindMemberRemoved, Entity: QueueEntity(queue),
		Body: &telv1.MemberRemoved{User: user, Observed: obs}}, nil
}

func members(views replication.Tx, queue string) ([]Member, error) {
	users, err := replication.SetElems(views, memberSet(queue))
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(users))
	for _, u := range users {
		m := Member{User: u, Priority: 1}
		if r, ok, err := replication.GetRegister(views, memberAttrKey(queue, u, "priority")); err != nil {
			return nil, err
		} else if ok {
			if p, err := strconv.Atoi(string(r.Value)); err == nil {
				m.Priority = p
			}
		}
		if r, ok, err := replication.GetRegister(views, memberAttrKey(queue, u, "windows")); err != nil {
			return nil, err
		} else if ok && len(r.Value) > 0 {
			for _, s := range strings.Split(string(r.Value), ",") {
				if w, err := ParseWindow(s); err == nil {
					m.Windows = append(m.Windows, w)
				}
			}
		}
		out = append(out, m)
	}
	return out, nil
}

func checkMemberAdded(ev *replication.Event, b *telv1.MemberAdded) error {
	if _, ok := queueKind.entityID(ev); !ok {
		return fmt.Errorf("entity %q is not a queue", ev.Entity)
	}
	if !ValidUser(b.GetUser()) || b.GetPriority() < 1 || b.GetPriority() > 99 || len(b.GetWindows()) > 16 {
		return fault.Invalidf("member", "bad_member", "bad user, priority or windows")
	}
	for _, s := range b.GetWindows() {
		w, err := ParseWindow(s)
		if err != nil || w.String() != s {
			return fault.Invalidf("windows", "bad_window", "%q is not a canonical window", s)
		}
	}
	return nil
}

func applyMemberAdded(tx replication.Tx, ev *replication.Event, b *telv1.MemberAdded) error {
	q, ok := queueKind.entityID(ev)
	if !ok || !ValidUser(b.GetUser()) {
		return nil
	}
	if err := replication.SetAdd(tx, memberSet(q), b.GetUser(), replication.TagOf(ev)); err != nil {
		return err
	}
	s := replication.StampOf(ev)
	if _, _, err := replication.SetRegister(tx, memberAttrKey(q, b.GetUser(), "priority"), []byte(strconv.Itoa(int(b.GetPriority()))), s); err != nil {
		return err
	}
	_, _, err := replication.SetRegister(tx, memberAttrKey(q, b.GetUser(), "windows"), []byte(strings.Join(b.GetWindows(), ",")), s)
	return err
}

func checkMemberRemoved(ev *replication.Event, b *telv1.MemberRemoved) error {
	if _, ok := queueKind.entityID(ev); !ok {
		return fmt.Errorf("entity %q is not a queue", ev.Entity)
	}
	if !ValidUser(b.GetUser()) {
		return fault.Invalidf("user", "bad_user", "%q is not a user name", b.GetUser())
	}
	for _, t := range b.GetObserved() {
		if !replication.ValidNodeID(t.GetOrigin()) && t.GetOrigin() != replication.HubOrigin {
			return errors.New("bad observed tag")
		}
	}
	return nil
}

func applyMemberRemoved(tx replication.Tx, ev *replication.Event, b *telv1.MemberRemoved) error {
	q, ok := queueKind.entityID(ev)
	if !ok || !ValidUser(b.GetUser()) {
		return nil
	}
	tags := make([]replication.Tag, len(b.GetObserved()))
	for i, t := range b.GetObserved() {
		tags[i] = replication.Tag{Origin: t.GetOrigin(), Seq: t.GetSeq()}
	}
	return replication.SetRemove(tx, memberSet(q), b.GetUser(), tags)
}

// Window is a time of day, on some weekdays, when a membership applies.
// To before From wraps past midnight.
type Window struct {
	Days     uint8 // bit 0 Monday … bit 6 Sunday; 0 means every day
	From, To int   // minutes after midnight
}

// ParseWindow parses "HH:MM-HH:MM" or "D-D HH:MM-HH:MM" / "D,D,D HH:MM-HH:MM"
// with ISO weekdays 1 (Monday) to 7 (Sunday).
func ParseWindow(s string) (Window, error) {
	var w Window
	s = strings.TrimSpace(s)
	days, hours, ok := strings.Cut(s, " ")
	if !ok {
		days, hours = "", s
	}
	bad := fault.Invalidf("windows", "bad_window", "%q is not like \"1-5 08:00-18:00\"", s)
	if days != "" {
		for _, part := range strings.Split(days, ",") {
			a, b, isRange := strings.Cut(part, "-")
			lo, err1 := strconv.Atoi(a)
			hi := lo
			var err2 error
			if isRange {
				hi, err2 = strconv.Atoi(b)
			}
			if err1 != nil || err2 != nil || lo < 1 || hi > 7 || lo > hi {
				return w, bad
			}
			for d := lo; d <= hi; d++ {
				w.Days |= 1 << (d - 1)
			}
		}
	}
	if w.Days == 0x7f {
		w.Days = 0 // every day
	}
	from, to, ok := strings.Cut(hours, "-")
	if !ok {
		return w, bad
	}
	var err error
	if w.From, err = parseHM(from); err != nil {
		return w, bad
	}
	if w.To, err = parseHM(to); err != nil || w.From == w.To {
		return w, bad
	}
	return w, nil
}

func parseHM(s string) (int, error) {
	if len(s) != 5 || s[2] != ':' {
		return 0, errors.New("bad time")
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || h == 24 && m != 0 {
		return 0, errors.New("bad time")
	}
	return h*60 + m, nil
}

// String is the canonical form ParseWindow reads.
func (w Window) String() string {
	hm := fmt.Sprintf("%02d:%02d-%02d:%02d", w.From/60, w.From%60, w.To/60, w.To%60)
	if w.Days == 0 || w.Days == 0x7f {
		return hm
	}
	var parts []string
	for d := 0; d < 7; {
		if w.Days&(1<<d) == 0 {
			d++
			continue
		}
		e := d
		for e+1 < 7 && w.Days&(1<<(e+1)) != 0 {
			e++
		}
		if e == d {
			parts = append(parts, strconv.Itoa(d+1))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", d+1, e+1))
		}
		d = e + 1
	}
	return strings.Join(parts, ",") + " " + hm
}

// Contains reports whether local time t falls in the window.
func (w Window) Contains(t time.Time) bool {
	wd := (int(t.Weekday()) + 6) % 7 // Monday 0
	if w.Days != 0 && w.Days&(1<<wd) == 0 {
		return false
	}
	m := t.Hour()*60 + t.Minute()
	if w.From < w.To {
		return m >= w.From && m < w.To
	}
	return m >= w.From || m < w.To
}

// ActiveAt reports whether the membership applies at local time t.
func (m *Member) ActiveAt(t time.Time) bool {
	if len(m.Windows) == 0 {
		return true
	}
	for _, w := range m.Windows {
		if w.Contains(t) {
			return true
		}
	}
	return false
}
