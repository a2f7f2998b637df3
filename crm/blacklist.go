package crm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	"branchline/replication"
)

// Blacklist (黑名单, SPEC §1): numbers of nuisance callers, keyed by their
// E.164 form.
//
// How a number gets listed, and the merge rules that make every replica
// agree on it whatever order events of different nodes arrive in:
//
//   - Flags. An agent at any node flags a number. The flags of a number
//     are an add-wins observed-remove set (ARCHITECTURE rule 3) whose
//     elements are the flagging users: one add per flag event, tagged with
//     the event's (origin, seq). The flag count is the number of distinct
//     users with a live add, so a user flagging twice, even at two nodes
//     during a partition, counts once. A number is listed while the count
//     reaches the threshold, a replicated parameter (blacklist.threshold,
//     default 3) read when the status is asked for: changing it re-grades
//     every number at once, and flags made at two nodes during a partition
//     that together reach it list the number on both once they have healed.
//   - Direct listing. An administrator blacklists a number directly, with
//     a policy and time windows. Listings are a second add-wins set.
//   - Un-blacklisting removes the adds (flags and listings) that its node
//     had seen when the administrator acted — it names their tags in the
//     event — and nothing else. So the flag count restarts: a flag seen
//     before the un-blacklisting never counts again, even if it reaches a
//     replica after the un-blacklisting does (it finds its tombstone). A
//     flag or listing made concurrently at another node, which the
//     administrator could not have seen, survives: add wins, and the
//     number may stay listed. Staff see it in the history.
//   - Policy, windows and reason of a number are last-writer-wins registers
//     (rule 1). Un-blacklisting does not clear policy and windows: they
//     describe how to treat the number whenever it is listed, and apply
//     again if it is listed again. A number without a policy of its own
//     takes blacklist.default_policy when asked.
//
// View keys (below replication.ViewPrefix), {n} an E.164 number:
//
//	crm \0 bl \0 n \0 {n} \0 cnt                    distinct live flaggers (counter)
//	crm \0 bl \0 n \0 {n} \0 flags \0 a|r \0 …       flag set (replication.SetAdd)
//	crm \0 bl \0 n \0 {n} \0 listed \0 a|r \0 …      direct listing set
//	crm \0 bl \0 n \0 {n} \0 policy|windows|reason  registers
//	crm \0 bl \0 n \0 {n} \0 unlisted               register: latest un-blacklisting
//	crm \0 bl \0 n \0 {n} \0 h \0 {^hlc} \0 {origin} history, newest first
//	crm \0 bl \0 idx \0 {hash}                      {n}, while the number has live adds
//
// The count is kept equal to the number of live elements by every applier
// (it moves only when an element gains its first or loses its last live
// add), so it is a function of the set and converges with it; it makes
// BlacklistStatus a handful of point reads, fit for the SIP INVITE path.

// Event kinds of the blacklist.
const (
	KindBlacklistFlagged  = "crm.blacklist.flagged"
	KindBlacklistListed   = "crm.blacklist.listed"
	KindBlacklistUnlisted = "crm.blacklist.unlisted"
)

// Policy says what happens to calls of a listed number while one of its
// time windows is open.
type Policy string

// The policies.
const (
	// PolicyWarn lets the call ring and warns the agent on screen pop.
	PolicyWarn Policy = "warn"
	// PolicyReject has the SIP layer answer 603 Decline.
	PolicyReject Policy = "reject"
)

// Blacklist limits and defaults.
const (
	DefaultBlacklistThreshold = 3
	MaxBlacklistThreshold     = 1000
	DefaultBlacklistPolicy    = PolicyWarn
	// DefaultTimeZone is the zone of windows that name none.
	DefaultTimeZone = "Asia/Shanghai"
	// MaxReason bounds reasons and notes, in characters.
	MaxReason  = 500
	maxWindows = 16
	// maxObserved bounds the tags an un-blacklisting names: it keeps the
	// event far below replication.MaxBody. Flags beyond it (a number flagged
	// by thousands of users) stay until the next un-blacklisting.
	maxObserved = 2000
)

const listedElem = "listed"

func blKey(num string, parts ...string) []byte {
	return replication.Key(append([]string{"crm", "bl", "n", num}, parts...)...)
}
func flagSet(num string) string   { return string(blKey(num, "flags")) }
func listedSet(num string) string { return string(blKey(num, "listed")) }
func blIndexKey(hash string) []byte {
	return replication.Key("crm", "bl", "idx", hash)
}

var blIndexPrefix = replication.Prefix("crm", "bl", "idx")

// newestFirstKey orders entries newest first: the inverted hlc (the
// origin follows it in the key).
func newestFirstKey(ev *replication.Event) string {
	return fmt.Sprintf("%016x", ^uint64(ev.HLC))
}

// BlacklistKey is the opaque, stable key of a number in lists and page
// tokens: it names the number without showing it to users who may not
// see phone numbers.
func BlacklistKey(e164 string) string {
	h := sha256.Sum256([]byte(e164))
	return hex.EncodeToString(h[:16])
}

func blacklistEntity(e164 string) string { return "blacklist/" + e164 }

// e164Re is the shape of a canonical number; appliers check only the
// shape, so that replicas whose phone metadata differ still agree.
var e164Re = regexp.MustCompile(`^\+[1-9][0-9]{5,15}$`)

// normalizeBlacklistNumber normalises a number typed or received in any notation.
func normalizeBlacklistNumber(raw string) (string, error) {
	n, err := NormalizePhone(raw, DefaultRegion)
	if inv, ok := fault.AsInvalid(err); ok {
		inv.Field = "number"
	}
	if err != nil {
		return "", err
	}
	if n == "" {
		return "", fault.Invalidf("number", "required", "is required")
	}
	return n, nil
}

// checkFreeText validates free text of at most max characters.
func checkFreeText(field, s string, max int, required bool) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return "", fault.Invalidf(field, "bad_text", "not valid UTF-8 text")
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", fault.Invalidf(field, "too_long", "%d characters, at most %d", n, max)
	}
	if required && s == "" {
		return "", fault.Invalidf(field, "required", "is required")
	}
	return s, nil
}

// flagger is who a flag event counts for: its user. Users are replicated
// across the company, so one agent flagging at two branches counts once.
func flagger(actor, origin string) string {
	if actor == "" || strings.ContainsRune(actor, 0) {
		return "@" + origin
	}
	return actor
}

// PolicyOf converts the API's policy; "" for unspecified (the default).
func PolicyOf(p crmv1.BlacklistPolicy) Policy {
	switch p {
	case crmv1.BlacklistPolicy_BLACKLIST_POLICY_WARN:
		return PolicyWarn
	case crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT:
		return PolicyReject
	}
	return ""
}

// Proto converts a policy for the API.
func (p Policy) Proto() crmv1.BlacklistPolicy {
	switch p {
	case PolicyWarn:
		return crmv1.BlacklistPolicy_BLACKLIST_POLICY_WARN
	case PolicyReject:
		return crmv1.BlacklistPolicy_BLACKLIST_POLICY_REJECT
	}
	return crmv1.BlacklistPolicy_BLACKLIST_POLICY_UNSPECIFIED
}

// FlagNumber decides the event by which user actor flags the number raw.
// ok is false when actor's flag on the number already counts.
func FlagNumber(views replication.Tx, actor, raw, reason string) (d replication.Draft, ok bool, err error) {
	num, err := normalizeBlacklistNumber(raw)
	if err != nil {
		return d, false, err
	}
	if reason, err = checkFreeText("reason", reason, MaxReason, false); err != nil {
		return d, false, err
	}
	// The origin part of flagger only matters without an actor, which the
	// API never lets through.
	has, err := replication.SetContains(views, flagSet(num), flagger(actor, "local"))
	if err != nil || has {
		return d, false, err
	}
	return replication.Draft{Kind: KindBlacklistFlagged, Entity: blacklistEntity(num),
		Body: &crmv1.BlacklistFlagged{Number: num, Reason: reason}}, true, nil
}

// BlacklistNumber decides the event by which an administrator lists the
// number raw at once. policy "" means the default policy; windows nil or
// empty means always.
func BlacklistNumber(views replication.Tx, raw, reason string, policy Policy, windows *crmv1.BlacklistWindows) (replication.Draft, error) {
	num, err := normalizeBlacklistNumber(raw)
	if err != nil {
		return replication.Draft{}, err
	}
	if reason, err = checkFreeText("reason", reason, MaxReason, true); err != nil {
		return replication.Draft{}, err
	}
	if policy != "" && policy != PolicyWarn && policy != PolicyReject {
		return replication.Draft{}, fault.Invalidf("policy", "bad_policy", "must be %q or %q", PolicyWarn, PolicyReject)
	}
	w, err := normalizeWindows(windows)
	if err != nil {
		return replication.Draft{}, err
	}
	if w != nil {
		if _, err := time.LoadLocation(w.GetTimeZone()); err != nil && w.GetTimeZone() != "" {
			return replication.Draft{}, fault.Invalidf("windows.time_zone", "bad_time_zone", "%q is not a time zone this node knows", w.GetTimeZone())
		}
	}
	return replication.Draft{Kind: KindBlacklistListed, Entity: blacklistEntity(num),
		Body: &crmv1.BlacklistListed{Number: num, Reason: reason, Policy: policy.Proto(), Windows: w}}, nil
}

// UnblacklistNumber decides the event that takes the number raw off the
// list: it removes the flags and listings this replica has seen.
func UnblacklistNumber(views replication.Tx, raw, reason string) (replication.Draft, error) {
	num, err := normalizeBlacklistNumber(raw)
	if err != nil {
		return replication.Draft{}, err
	}
	if reason, err = checkFreeText("reason", reason, MaxReason, true); err != nil {
		return replication.Draft{}, err
	}
	body := &crmv1.BlacklistUnlisted{Number: num, Reason: reason}
	users, err := replication.SetElems(views, flagSet(num))
	if err != nil {
		return replication.Draft{}, err
	}
	for _, u := range users {
		tags, err := replication.SetTags(views, flagSet(num), u)
		if err != nil {
			return replication.Draft{}, err
		}
		for _, t := range tags {
			body.Flags = append(body.Flags, &crmv1.BlacklistTag{Flagger: u, Origin: t.Origin, Seq: t.Seq})
		}
	}
	tags, err := replication.SetTags(views, listedSet(num), listedElem)
	if err != nil {
		return replication.Draft{}, err
	}
	for _, t := range tags {
		body.Listings = append(body.Listings, &crmv1.BlacklistTag{Origin: t.Origin, Seq: t.Seq})
	}
	if len(body.Flags) == 0 && len(body.Listings) == 0 {
		return replication.Draft{}, fault.Invalidf("number", "not_listed", "%s is neither blacklisted nor flagged", num)
	}
	if n := len(body.Flags) + len(body.Listings); n > maxObserved {
		// Keep the listings and the oldest flags; the rest wait for the
		// next un-blacklisting.
		body.Flags = body.Flags[:maxObserved-min(len(body.Listings), maxObserved)]
		body.Listings = body.Listings[:min(len(body.Listings), maxObserved)]
	}
	return replication.Draft{Kind: KindBlacklistUnlisted, Entity: blacklistEntity(num), Body: body}, nil
}

// Status is what the SIP layer and screen pop need to know about a number.
type Status struct {
	Number    string // E.164
	Listed    bool   // blacklisted, directly or by flags
	Direct    bool   // an administrator listed it
	Flags     int    // distinct users whose flags count
	Threshold int    // flags that list a number
	Policy    Policy // in force: the number's own or the default
	// Active: listed, and one of the number's windows is open at the time
	// asked (a number without windows is always active).
	Active  bool
	Reason  string                  // of the latest flag or listing
	Windows *crmv1.BlacklistWindows // nil: always
	// Unlisted is the latest un-blacklisting, if any.
	Unlisted *BlacklistRecord
}

// Rejects reports whether the SIP layer should decline the number's calls
// now (603).
func (s Status) Rejects() bool { return s.Active && s.Policy == PolicyReject }

// Warns reports whether screen pop should warn the agent now.
func (s Status) Warns() bool { return s.Active && s.Policy == PolicyWarn }

// BlacklistRecord is one entry of a number's history.
type BlacklistRecord struct {
	Action string // "flagged", "listed", "unlisted"
	Actor  string
	Reason string
	Origin string
	At     replication.HLC
}

// BlacklistStatus returns the status of the number raw, in any notation, at
// time now. It is what the SIP layer calls on INVITE and screen pop on
// ringing: a few point reads. A number that does not parse gives a
// *fault.Invalid error (callers on the call path treat it as not listed).
func BlacklistStatus(views replication.Tx, raw string, now time.Time) (Status, error) {
	if e164Re.MatchString(raw) {
		// Already E.164, as the SIP layer and the views hold numbers: skip
		// parsing. A number that is not a valid one is simply not listed.
		return statusOf(views, raw, now)
	}
	num, err := normalizeBlacklistNumber(raw)
	if err != nil {
		return Status{}, err
	}
	return statusOf(views, num, now)
}

func statusOf(views replication.Tx, num string, now time.Time) (Status, error) {
	st := Status{Number: num}
	var err error
	if st.Threshold, err = getIntParam(views, ParamBlacklistThreshold, DefaultBlacklistThreshold); err != nil {
		return Status{}, err
	}
	if st.Threshold < 1 {
		st.Threshold = DefaultBlacklistThreshold
	}
	cnt, err := replication.GetCounter(views, blKey(num, "cnt"))
	if err != nil {
		return Status{}, err
	}
	st.Flags = int(cnt)
	if st.Direct, err = replication.SetContains(views, listedSet(num), listedElem); err != nil {
		return Status{}, err
	}
	st.Listed = st.Direct || st.Flags >= st.Threshold
	pol, _, err := replication.GetRegister(views, blKey(num, "policy"))
	if err != nil {
		return Status{}, err
	}
	st.Policy = Policy(pol.Value)
	if st.Policy != PolicyWarn && st.Policy != PolicyReject {
		def, err := GetParam(views, ParamBlacklistPolicy, string(DefaultBlacklistPolicy))
		if err != nil {
			return Status{}, err
		}
		st.Policy = Policy(def)
		if st.Policy != PolicyReject {
			st.Policy = PolicyWarn
		}
	}
	win, _, err := replication.GetRegister(views, blKey(num, "windows"))
	if err != nil {
		return Status{}, err
	}
	if len(win.Value) > 0 {
		w := &crmv1.BlacklistWindows{}
		if proto.Unmarshal(win.Value, w) == nil && len(w.GetWindows()) > 0 {
			st.Windows = w
		}
	}
	st.Active = st.Listed && windowsOpen(st.Windows, now)
	reason, _, err := replication.GetRegister(views, blKey(num, "reason"))
	if err != nil {
		return Status{}, err
	}
	st.Reason = string(reason.Value)
	unl, ok, err := replication.GetRegister(views, blKey(num, "unlisted"))
	if err != nil {
		return Status{}, err
	}
	if ok {
		r := &crmv1.BlacklistRecord{}
		if proto.Unmarshal(unl.Value, r) == nil {
			st.Unlisted = recordOf(r)
		}
	}
	return st, nil
}

func recordOf(r *crmv1.BlacklistRecord) *BlacklistRecord {
	return &BlacklistRecord{Action: r.GetAction(), Actor: r.GetActor(), Reason: r.GetReason(), Origin: r.GetOrigin(), At: replication.HLC(r.GetHlc())}
}

// BlacklistHistory returns up to limit entries of the history of the
// number raw, newest first.
func BlacklistHistory(views replication.Tx, raw string, limit int) ([]BlacklistRecord, error) {
	num, err := normalizeBlacklistNumber(raw)
	if err != nil {
		return nil, err
	}
	var out []BlacklistRecord
	err = views.Scan(replication.Prefix("crm", "bl", "n", num, "h"), nil, func(_, v []byte) (bool, error) {
		r := &crmv1.BlacklistRecord{}
		if err := proto.Unmarshal(v, r); err != nil {
			return false, fmt.Errorf("blacklist history of %s: %w", num, err)
		}
		out = append(out, *recordOf(r))
		return len(out) < limit, nil
	})
	return out, err
}

// BlacklistNumberByKey returns the number whose BlacklistKey is key, if the
// number has flags or listings.
func BlacklistNumberByKey(views replication.Tx, key string) (string, error) {
	if len(key) != 32 || strings.Trim(key, "0123456789abcdef") != "" {
		return "", fault.Invalidf("name", "bad_name", "%q is not a blacklist entry", key)
	}
	b, err := views.Get(blIndexKey(key))
	if errors.Is(err, replication.ErrNotFound) {
		return "", fmt.Errorf("blacklist entry %s: %w", key, fault.ErrNotFound)
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ListBlacklist returns up to limit statuses of numbers with flags or
// listings, after the one whose key is after ("" from the start), in key
// order (a hash: stable, but no meaning). Unless withFlagged, only listed
// numbers are returned.
func ListBlacklist(views replication.Tx, after string, limit int, withFlagged bool, now time.Time) ([]Status, error) {
	var out []Status
	start := []byte(nil)
	if after != "" {
		start = append(blIndexKey(after), 0)
	}
	for len(out) < limit {
		// Collect a chunk of numbers, then read their statuses: a Tx's
		// slices are only valid until its next call.
		var nums []string
		err := views.Scan(blIndexPrefix, start, func(k, v []byte) (bool, error) {
			nums = append(nums, string(v))
			start = append(append([]byte(nil), k...), 0)
			return len(nums) < 100, nil
		})
		if err != nil {
			return nil, err
		}
		for _, n := range nums {
			st, err := statusOf(views, n, now)
			if err != nil {
				return nil, err
			}
			if st.Listed || withFlagged && st.Flags > 0 {
				out = append(out, st)
				if len(out) == limit {
					break
				}
			}
		}
		if len(nums) < 100 {
			break
		}
	}
	return out, nil
}

// Windows.

// normalizeWindows validates windows and returns their canonical form: days
// sorted without repeats, times as HH:MM; nil for no windows.
func normalizeWindows(w *crmv1.BlacklistWindows) (*crmv1.BlacklistWindows, error) {
	if len(w.GetWindows()) == 0 {
		return nil, nil
	}
	if len(w.GetWindows()) > maxWindows {
		return nil, fault.Invalidf("windows", "too_many", "%d windows, at most %d", len(w.GetWindows()), maxWindows)
	}
	tz := strings.TrimSpace(w.GetTimeZone())
	if len(tz) > 64 || strings.ContainsAny(tz, "\x00 ") {
		return nil, fault.Invalidf("windows.time_zone", "bad_time_zone", "%q is not a time zone", tz)
	}
	out := &crmv1.BlacklistWindows{TimeZone: tz}
	for i, win := range w.GetWindows() {
		field := fmt.Sprintf("windows[%d]", i)
		var days []int32
		for _, d := range win.GetDays() {
			if d < 1 || d > 7 {
				return nil, fault.Invalidf(field+".days", "bad_day", "%d is not a weekday (1 = Monday … 7 = Sunday)", d)
			}
			if !slices.Contains(days, d) {
				days = append(days, d)
			}
		}
		slices.Sort(days)
		s, ok1 := parseClock(strings.TrimSpace(win.GetStart()), false)
		e, ok2 := parseClock(strings.TrimSpace(win.GetEnd()), true)
		if !ok1 {
			return nil, fault.Invalidf(field+".start", "bad_time", "%q is not a time of day (HH:MM)", win.GetStart())
		}
		if !ok2 {
			return nil, fault.Invalidf(field+".end", "bad_time", "%q is not a time of day (HH:MM, up to 24:00)", win.GetEnd())
		}
		out.Windows = append(out.Windows, &crmv1.BlacklistWindow{Days: days, Start: formatClock(s), End: formatClock(e)})
	}
	return out, nil
}

// parseClock parses "HH:MM" (or "H:MM") into minutes after midnight;
// "24:00" only when end.
func parseClock(s string, end bool) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, false
	}
	hh, mm := 0, 0
	for _, c := range h {
		if c < '0' || c > '9' {
			return 0, false
		}
		hh = hh*10 + int(c-'0')
	}
	for _, c := range m {
		if c < '0' || c > '9' {
			return 0, false
		}
		mm = mm*10 + int(c-'0')
	}
	switch {
	case mm > 59, hh > 24, hh == 24 && (mm != 0 || !end):
		return 0, false
	}
	return hh*60 + mm, true
}

func formatClock(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// zones caches loaded time zones: time.LoadLocation reads the zone file
// each time, too slow for the INVITE path. It only ever grows by the few
// zones windows name.
var zones sync.Map // name → *time.Location

// chinaTime stands in for Asia/Shanghai on a machine without zone data
// (China has kept UTC+8 without daylight saving since 1991).
var chinaTime = time.FixedZone("CST", 8*3600)

// location returns the zone named (DefaultTimeZone when empty). A zone
// this machine does not know reads as China time rather than failing a
// call: nodes build with time/tzdata, and a zone was checked where the
// windows were set.
func tzLocation(name string) *time.Location {
	if name == "" {
		name = DefaultTimeZone
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		l = chinaTime
	}
	zones.Store(name, l)
	return l
}

func isoDay(d time.Weekday) int32 {
	if d == time.Sunday {
		return 7
	}
	return int32(d)
}

// windowsOpen reports whether now falls in one of the windows. A window
// whose end is at or before its start runs overnight: it belongs to the
// day it starts on (a Friday 22:00-08:00 window covers Saturday 07:00).
// Start equal to end is the whole day.
func windowsOpen(w *crmv1.BlacklistWindows, now time.Time) bool {
	if w == nil || len(w.GetWindows()) == 0 {
		return true
	}
	t := now.In(tzLocation(w.GetTimeZone()))
	mins := t.Hour()*60 + t.Minute()
	day := isoDay(t.Weekday())
	prev := day - 1
	if prev == 0 {
		prev = 7
	}
	on := func(days []int32, d int32) bool { return len(days) == 0 || slices.Contains(days, d) }
	for _, win := range w.GetWindows() {
		s, ok1 := parseClock(win.GetStart(), false)
		e, ok2 := parseClock(win.GetEnd(), true)
		if !ok1 || !ok2 {
			continue
		}
		switch {
		case s == e:
			if on(win.GetDays(), day) {
				return true
			}
		case s < e:
			if on(win.GetDays(), day) && mins >= s && mins < e {
				return true
			}
		default:
			if on(win.GetDays(), day) && mins >= s || on(win.GetDays(), prev) && mins < e {
				return true
			}
		}
	}
	return false
}

// Appliers.

// RegisterBlacklist adds the blacklist appliers to r.
func RegisterBlacklist(r *replication.Registry) {
	replication.Handle(r, KindBlacklistFlagged, applyFlagged, checkFlagged)
	replication.Handle(r, KindBlacklistListed, applyListed, checkListed)
	replication.Handle(r, KindBlacklistUnlisted, applyUnlisted, checkUnlisted)
}

// checkBlacklistEvent validates what every blacklist event carries: a
// canonical number matching the entity and a bounded reason.
func checkBlacklistEvent(ev *replication.Event, num, reason string, reasonRequired bool) error {
	n, err := normalizeBlacklistNumber(num)
	if err != nil {
		return err
	}
	if n != num {
		return fault.Invalidf("number", "not_canonical", "%q is not in E.164", num)
	}
	if ev.Entity != blacklistEntity(num) {
		return fault.Invalidf("entity", "bad_entity", "%q is not the entity of %s", ev.Entity, num)
	}
	r, err := checkFreeText("reason", reason, MaxReason, reasonRequired)
	if err != nil {
		return err
	}
	if r != reason {
		return fault.Invalidf("reason", "not_canonical", "has surrounding space")
	}
	return nil
}

func checkFlagged(ev *replication.Event, b *crmv1.BlacklistFlagged) error {
	return checkBlacklistEvent(ev, b.GetNumber(), b.GetReason(), false)
}

func checkListed(ev *replication.Event, b *crmv1.BlacklistListed) error {
	if err := checkBlacklistEvent(ev, b.GetNumber(), b.GetReason(), true); err != nil {
		return err
	}
	if _, ok := crmv1.BlacklistPolicy_name[int32(b.GetPolicy())]; !ok {
		return fault.Invalidf("policy", "bad_policy", "unknown policy %d", b.GetPolicy())
	}
	w, err := normalizeWindows(b.GetWindows())
	if err != nil {
		return err
	}
	if !proto.Equal(w, b.GetWindows()) && !(w == nil && len(b.GetWindows().GetWindows()) == 0) {
		return fault.Invalidf("windows", "not_canonical", "windows are not in canonical form")
	}
	return nil
}

func checkUnlisted(ev *replication.Event, b *crmv1.BlacklistUnlisted) error {
	if err := checkBlacklistEvent(ev, b.GetNumber(), b.GetReason(), true); err != nil {
		return err
	}
	if len(b.GetFlags())+len(b.GetListings()) > maxObserved {
		return fault.Invalidf("flags", "too_many", "more than %d tags", maxObserved)
	}
	for _, t := range append(slices.Clone(b.GetFlags()), b.GetListings()...) {
		if !replication.ValidNodeID(t.GetOrigin()) || t.GetSeq() == 0 || strings.ContainsRune(t.GetFlagger(), 0) {
			return fault.Invalidf("flags", "bad_tag", "tag %s:%d does not name an event", t.GetOrigin(), t.GetSeq())
		}
	}
	return nil
}

// addHistory records ev in the number's history.
func addHistory(tx replication.Tx, ev *replication.Event, num, action, reason string) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&crmv1.BlacklistRecord{
		Action: action, Actor: ev.Actor, Reason: reason, Origin: ev.Origin, Hlc: uint64(ev.HLC)})
	if err != nil {
		return err
	}
	return tx.Set(blKey(num, "h", newestFirstKey(ev), ev.Origin), b)
}

// setReason keeps the reason of the latest flag or listing.
func setReason(tx replication.Tx, ev *replication.Event, num, reason string) error {
	if reason == "" {
		return nil
	}
	_, _, err := replication.SetRegister(tx, blKey(num, "reason"), []byte(reason), replication.StampOf(ev))
	return err
}

// reindex keeps the number in the index while it has a live flag or
// listing: a function of the two sets, so order-independent like them.
func reindexNumber(tx replication.Tx, num string) error {
	cnt, err := replication.GetCounter(tx, blKey(num, "cnt"))
	if err != nil {
		return err
	}
	live := cnt > 0
	if !live {
		if live, err = replication.SetContains(tx, listedSet(num), listedElem); err != nil {
			return err
		}
	}
	if live {
		return tx.Set(blIndexKey(BlacklistKey(num)), []byte(num))
	}
	return tx.Delete(blIndexKey(BlacklistKey(num)))
}

func applyFlagged(tx replication.Tx, ev *replication.Event, b *crmv1.BlacklistFlagged) error {
	num := b.GetNumber()
	if !e164Re.MatchString(num) {
		return nil
	}
	user := flagger(ev.Actor, ev.Origin)
	before, err := replication.SetContains(tx, flagSet(num), user)
	if err != nil {
		return err
	}
	if err := replication.SetAdd(tx, flagSet(num), user, replication.TagOf(ev)); err != nil {
		return err
	}
	if !before {
		after, err := replication.SetContains(tx, flagSet(num), user)
		if err != nil {
			return err
		}
		if after {
			if _, err := replication.AddCounter(tx, blKey(num, "cnt"), 1); err != nil {
				return err
			}
		}
	}
	if err := setReason(tx, ev, num, b.GetReason()); err != nil {
		return err
	}
	if err := addHistory(tx, ev, num, "flagged", b.GetReason()); err != nil {
		return err
	}
	return reindexNumber(tx, num)
}

func applyListed(tx replication.Tx, ev *replication.Event, b *crmv1.BlacklistListed) error {
	num := b.GetNumber()
	if !e164Re.MatchString(num) {
		return nil
	}
	s := replication.StampOf(ev)
	if err := replication.SetAdd(tx, listedSet(num), listedElem, replication.TagOf(ev)); err != nil {
		return err
	}
	if _, _, err := replication.SetRegister(tx, blKey(num, "policy"), []byte(PolicyOf(b.GetPolicy())), s); err != nil {
		return err
	}
	var w []byte
	if len(b.GetWindows().GetWindows()) > 0 {
		var err error
		if w, err = (proto.MarshalOptions{Deterministic: true}).Marshal(b.GetWindows()); err != nil {
			return err
		}
	}
	if _, _, err := replication.SetRegister(tx, blKey(num, "windows"), w, s); err != nil {
		return err
	}
	if err := setReason(tx, ev, num, b.GetReason()); err != nil {
		return err
	}
	if err := addHistory(tx, ev, num, "listed", b.GetReason()); err != nil {
		return err
	}
	return reindexNumber(tx, num)
}

func applyUnlisted(tx replication.Tx, ev *replication.Event, b *crmv1.BlacklistUnlisted) error {
	num := b.GetNumber()
	if !e164Re.MatchString(num) {
		return nil
	}
	// Group the observed flags by user: the count drops when a user loses
	// the last live add.
	byUser := map[string][]replication.Tag{}
	var users []string
	for _, t := range b.GetFlags() {
		u := t.GetFlagger()
		if u == "" || strings.ContainsRune(u, 0) {
			continue
		}
		if _, seen := byUser[u]; !seen {
			users = append(users, u)
		}
		byUser[u] = append(byUser[u], replication.Tag{Origin: t.GetOrigin(), Seq: t.GetSeq()})
	}
	for _, u := range users {
		before, err := replication.SetContains(tx, flagSet(num), u)
		if err != nil {
			return err
		}
		if err := replication.SetRemove(tx, flagSet(num), u, byUser[u]); err != nil {
			return err
		}
		after, err := replication.SetContains(tx, flagSet(num), u)
		if err != nil {
			return err
		}
		if before && !after {
			if _, err := replication.AddCounter(tx, blKey(num, "cnt"), -1); err != nil {
				return err
			}
		}
	}
	var listings []replication.Tag
	for _, t := range b.GetListings() {
		listings = append(listings, replication.Tag{Origin: t.GetOrigin(), Seq: t.GetSeq()})
	}
	if err := replication.SetRemove(tx, listedSet(num), listedElem, listings); err != nil {
		return err
	}
	rec, err := proto.MarshalOptions{Deterministic: true}.Marshal(&crmv1.BlacklistRecord{
		Action: "unlisted", Actor: ev.Actor, Reason: b.GetReason(), Origin: ev.Origin, Hlc: uint64(ev.HLC)})
	if err != nil {
		return err
	}
	if _, _, err := replication.SetRegister(tx, blKey(num, "unlisted"), rec, replication.StampOf(ev)); err != nil {
		return err
	}
	if err := addHistory(tx, ev, num, "unlisted", b.GetReason()); err != nil {
		return err
	}
	return reindexNumber(tx, num)
}
