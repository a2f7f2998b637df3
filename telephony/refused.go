package telephony

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"branchline/fault"
	telv1 "branchline/gen/branchline/telephony/v1"
	"branchline/replication"
)

// KindCallsRefused is the kind of the per-minute counts of new calls a
// switch refused before doing any work for them.
const KindCallsRefused = "telephony.calls.refused"

// RefusedOverload is the reason of calls refused because the switch was
// overloaded (answered 503 with Retry-After).
const RefusedOverload = "overload"

// A switch under overload may refuse thousands of calls a second: a call
// record (and a replicated event) each would make the overload worse and
// flood the hub. Refused calls are counted per node, minute and reason
// instead, one event a minute at most; the counts of one minute add up
// (rule 2: quantities are summed), whatever events carry them.
//
//	tel \0 refused \0 minute(16 hex ms) \0 origin \0 reason -> counter

func refusedKey(minuteMs int64, origin, reason string) []byte {
	return replication.Key("tel", "refused", fmt.Sprintf("%016x", minuteMs), origin, reason)
}

var refusedPrefix = replication.Prefix("tel", "refused")

func refusedEntity(minuteMs int64) string { return "refused/" + strconv.FormatInt(minuteMs, 10) }

// RecordRefused decides the event adding count calls refused for reason
// in the minute that starts at minute.
func RecordRefused(minute time.Time, reason string, count int) (replication.Draft, error) {
	b := &telv1.CallsRefused{MinuteMs: minute.UnixMilli(), Reason: reason, Count: int32(count)}
	if err := checkRefusedBody(b); err != nil {
		return replication.Draft{}, err
	}
	return replication.Draft{Kind: KindCallsRefused, Entity: refusedEntity(b.MinuteMs), Body: b}, nil
}

func checkRefusedBody(b *telv1.CallsRefused) error {
	switch {
	case b.GetMinuteMs() <= 0 || b.GetMinuteMs()%60000 != 0:
		return fault.Invalidf("minute_ms", "bad_minute", "the start of a minute")
	case b.GetReason() != RefusedOverload:
		return fault.Invalidf("reason", "bad_reason", "%q is not a reason calls are refused for", b.GetReason())
	case b.GetCount() <= 0:
		return fault.Invalidf("count", "bad_count", "at least one call")
	}
	return nil
}

func checkCallsRefused(ev *replication.Event, b *telv1.CallsRefused) error {
	if ev.Entity != refusedEntity(b.GetMinuteMs()) {
		return fmt.Errorf("entity %q is not the minute's", ev.Entity)
	}
	return checkRefusedBody(b)
}

func applyCallsRefused(tx replication.Tx, ev *replication.Event, b *telv1.CallsRefused) error {
	if strings.ContainsRune(ev.Origin, 0) {
		return nil
	}
	_, err := replication.AddCounter(tx, refusedKey(b.GetMinuteMs(), ev.Origin, b.GetReason()), int64(b.GetCount()))
	return err
}

// RefusedCalls sums the calls refused from start to end (minutes that
// start in it), by reason, over every node.
func RefusedCalls(views replication.Tx, start, end time.Time) (map[string]int, error) {
	out := map[string]int{}
	from := append(append([]byte(nil), refusedPrefix...), fmt.Sprintf("%016x", start.UnixMilli())...)
	err := views.Scan(refusedPrefix, from, func(key, v []byte) (bool, error) {
		parts := strings.Split(string(key[len(refusedPrefix):]), "\x00")
		if len(parts) != 3 {
			return false, fmt.Errorf("bad refused-calls key %q", key)
		}
		ms, err := strconv.ParseInt(parts[0], 16, 64)
		if err != nil {
			return false, fmt.Errorf("bad refused-calls key %q: %w", key, err)
		}
		if ms >= end.UnixMilli() {
			return false, nil
		}
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return false, fmt.Errorf("refused-calls counter %q: %w", key, err)
		}
		out[parts[2]] += n
		return true, nil
	})
	return out, err
}
