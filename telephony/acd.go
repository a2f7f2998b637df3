package telephony

import (
	"cmp"
	"slices"
	"time"
)

// AgentState is where an agent is in the ACD's eyes.
type AgentState string

// Agent states (签入、示闲、示忙、振铃、通话、话后处理).
const (
	LoggedOut AgentState = "logged_out"
	Ready     AgentState = "ready"
	NotReady  AgentState = "not_ready"
	Ringing   AgentState = "ringing"
	OnCall    AgentState = "on_call"
	WrapUp    AgentState = "wrap_up"
)

// Reasons the ACD itself makes an agent not ready.
const (
	ReasonNoAnswer     = "no_answer"    // did not answer within the ring timeout
	ReasonRejected     = "rejected"     // the phone declined the call
	ReasonUnreachable  = "unreachable"  // the phone could not be reached
	ReasonUnregistered = "unregistered" // no phone registered at the extension
)

// Candidate is what a strategy knows of one ready agent.
type Candidate struct {
	User      string
	Priority  int       // the member's priority in the queue, 1 first
	Answered  int       // calls answered today
	IdleSince time.Time // when the agent last became free
}

// Hint is what a strategy knows of the queue and the caller.
type Hint struct {
	// LastOffered is the agent the queue offered a call to last, for
	// round robin.
	LastOffered string
	// Previous is the agent who last served the caller, for caller-based.
	Previous string
}

// Order sorts candidates into the order the queue rings them, by
// strategy (fallback serves caller-based). It is a pure function of its
// arguments, and deterministic: ties are broken by user name.
func Order(s, fallback Strategy, cands []Candidate, h Hint) []string {
	cs := slices.Clone(cands)
	byPrio := func(a, b Candidate) int {
		return cmp.Or(cmp.Compare(a.Priority, b.Priority), cmp.Compare(a.User, b.User))
	}
	byIdle := func(a, b Candidate) int {
		return cmp.Or(a.IdleSince.Compare(b.IdleSince), cmp.Compare(a.User, b.User))
	}
	switch s {
	case TopDown:
		slices.SortFunc(cs, byPrio)
	case RoundRobin:
		// The ring is the members by name, so that "the one after the agent
		// offered last" is defined even when that agent is busy or gone.
		slices.SortFunc(cs, func(a, b Candidate) int { return cmp.Compare(a.User, b.User) })
		start := 0
		if h.LastOffered != "" {
			start = max(0, slices.IndexFunc(cs, func(c Candidate) bool { return c.User > h.LastOffered }))
		}
		if len(cs) > 0 {
			start %= len(cs)
			cs = slices.Concat(cs[start:], cs[:start])
		}
	case FewestAnswered:
		slices.SortFunc(cs, func(a, b Candidate) int {
			return cmp.Or(cmp.Compare(a.Answered, b.Answered), byIdle(a, b))
		})
	case PriorityFirst:
		slices.SortFunc(cs, func(a, b Candidate) int {
			return cmp.Or(cmp.Compare(a.Priority, b.Priority), byIdle(a, b))
		})
	case CallerBased:
		if fallback == CallerBased || fallback == "" {
			fallback = LongestIdle
		}
		rest := slices.DeleteFunc(slices.Clone(cs), func(c Candidate) bool { return c.User == h.Previous })
		out := Order(fallback, "", rest, h)
		if len(rest) < len(cs) {
			out = append([]string{h.Previous}, out...)
		}
		return out
	default: // LongestIdle and anything unknown
		slices.SortFunc(cs, byIdle)
	}
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.User
	}
	return out
}
