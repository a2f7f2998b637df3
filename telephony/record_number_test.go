package telephony_test

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"branchline/telephony"
)

func TestNumberKey(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"national", "13800138000", "13800138000"},
		{"E.164", "+8613800138000", "8613800138000"},
		{"spaced and dashed", "+86 138-0013 8000", "8613800138000"},
		{"an extension", "8001", "8001"},
		{"no digits", "anonymous", ""},
		{"empty", "", ""},
		{"full-width digits are not ASCII", "１３８", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := telephony.NumberKey(tc.in); got != tc.want {
				t.Errorf("NumberKey(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestNumberCallsMatchRecords: whatever calls were recorded (some
// recorded twice, the later record naming another number and time), the
// number index finds exactly the calls a scan of every record finds for
// a number and a window, and the time index's keys count a window's
// calls as a scan of the records does.
func TestNumberCallsMatchRecords(t *testing.T) {
	numbers := []string{"13800138000", "+8613800138000", "02155556666", "8001", "anonymous"}
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	rapid.Check(t, func(rt *rapid.T) {
		r := newReplica(t)
		var ids []string
		n := rapid.IntRange(0, 25).Draw(rt, "calls")
		for i := range n {
			id := ""
			if i > 0 && rapid.IntRange(0, 4).Draw(rt, "again") == 0 {
				id = rapid.SampledFrom(ids).Draw(rt, "which") // a second record of a call
			} else {
				id = r.ids.New(t0)
				ids = append(ids, id)
			}
			arrive := t0.Add(time.Duration(rapid.IntRange(0, 72).Draw(rt, "hour")) * time.Hour)
			x := &telephony.Record{ID: id, Direction: rapid.SampledFrom([]string{telephony.Inbound, telephony.Outbound, telephony.Internal}).Draw(rt, "direction"),
				Caller: rapid.SampledFrom(numbers).Draw(rt, "caller"), DID: rapid.SampledFrom(numbers).Draw(rt, "did"),
				Disposition: telephony.NotAnswered, Arrive: arrive, End: arrive.Add(time.Minute)}
			d, err := telephony.EndCall(x)
			r.record(t, d, err)
		}
		var all []*telephony.Record
		if err := telephony.Records(r.read(), time.Time{}, t0.Add(100*time.Hour), false, func(x *telephony.Record) bool {
			all = append(all, x)
			return true
		}); err != nil {
			rt.Fatal(err)
		}
		from := t0.Add(time.Duration(rapid.IntRange(0, 72).Draw(rt, "from")) * time.Hour)
		to := from.Add(time.Duration(rapid.IntRange(0, 48).Draw(rt, "window")) * time.Hour)
		var inWindow []string
		for _, x := range all {
			if !x.Arrive.Before(from) && x.Arrive.Before(to) {
				inWindow = append(inWindow, x.ID)
			}
		}
		refs, more, err := telephony.WindowCalls(r.read(), from, to, 0)
		if err != nil || more || !slices.Equal(refIDs(refs), inWindow) {
			rt.Fatalf("window calls %v (more %v, %v), want %v", refIDs(refs), more, err, inWindow)
		}
		if len(inWindow) > 1 {
			refs, more, _ = telephony.WindowCalls(r.read(), from, to, 1)
			if len(refs) != 1 || !more {
				rt.Fatalf("window calls at most 1: %v, more %v", refIDs(refs), more)
			}
		}
		for _, num := range numbers {
			asked := []string{num, num} // a number asked twice is read once
			got, err := telephony.NumberCalls(r.read(), asked, from, to)
			if err != nil {
				rt.Fatal(err)
			}
			var want []string
			for _, x := range all {
				p := telephony.NumberKey(x.Party())
				if p != "" && p == telephony.NumberKey(num) && !x.Arrive.Before(from) && x.Arrive.Before(to) {
					want = append(want, x.ID)
				}
			}
			if !slices.Equal(refIDs(got), want) {
				rt.Fatalf("calls of %s in [%v, %v): %v, want %v", num, from, to, refIDs(got), want)
			}
		}
	})
}

func refIDs(refs []telephony.CallRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.ID)
	}
	return out
}

func TestNumberCallbacks(t *testing.T) {
	r := newReplica(t)
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	ids := []string{r.ids.New(t0), r.ids.New(t0.Add(time.Second)), r.ids.New(t0.Add(2 * time.Second))}
	for i, num := range []string{"13800138000", "+8613800138000", "02155556666"} {
		d, err := telephony.CreateCallback(ids[i], num, "", "sales", telephony.ReasonAbandoned, t0)
		r.record(t, d, err)
	}
	tests := []struct {
		name    string
		numbers []string
		want    []string
	}{
		{"one notation", []string{"13800138000"}, []string{ids[0]}},
		{"both notations, newest first", []string{"13800138000", "8613800138000"}, []string{ids[1], ids[0]}},
		{"another number", []string{"021-5555 6666"}, []string{ids[2]}},
		{"no such number", []string{"13900000000"}, nil},
		{"no digits", []string{"anonymous", ""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cbs, err := telephony.NumberCallbacks(r.read(), tc.numbers)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, cb := range cbs {
				got = append(got, cb.ID)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("callbacks of %v = %v, want %v", tc.numbers, got, tc.want)
			}
		})
	}
}
