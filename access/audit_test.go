package access

import (
	"slices"
	"strings"
	"testing"
	"time"

	"branchline/fault"
	accessv1 "branchline/gen/branchline/access/v1"
	"branchline/replication"
)

func TestAuditDraftAlwaysPassesTheCheck(t *testing.T) {
	reg := newRegistry()
	cases := []struct {
		name                   string
		action, target, detail string
		opts                   []AuditOption
		wantAction             string
	}{
		{"plain", ActionExport, "customers", "120 rows", nil, "export"},
		{"bad action", "Export Customers!", "customers", "", nil, "other"},
		{"long detail", ActionImport, "customers", strings.Repeat("行", 5000), nil, "import"},
		{"control characters", ActionDelete, "customer/1\x00\n", "a\tb\x00c", nil, "delete"},
		{"invalid UTF-8", ActionMerge, "\xff\xfe", "\xc3", []AuditOption{WithActor("\xffbob"), WithSource("sh-pudong", strings.Repeat("9", 300))}, "merge"},
		{"changes", ActionUserChanged, "users/x", "", []AuditOption{WithChanges(
			AuditChange{Field: "phone", Before: "+8613800138000", After: "+8613900139000", Phone: true},
			AuditChange{Field: "note\x00", Before: strings.Repeat("长", 3000), After: "a\nb"},
			AuditChange{Field: " ", After: "a field without a name is left out"})}, "user_changed"},
		{"too many changes", ActionUserChanged, "users/x", "", []AuditOption{WithChanges(slices.Repeat([]AuditChange{{Field: "f", After: "v"}}, 100)...)}, "user_changed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := AuditDraft(c.action, c.target, c.detail, c.opts...)
			body, err := marshal(d.Body)
			if err != nil {
				t.Fatal(err)
			}
			ev := &replication.Event{Origin: "sh-pudong", Seq: 1, HLC: 1, Kind: d.Kind, Entity: d.Entity, Actor: "alice", Body: body}
			if err := reg.Check(ev); err != nil {
				t.Fatalf("the hub would refuse an audit entry: %v", err)
			}
			if got := d.Body.(*accessv1.AuditRecorded).GetAction(); got != c.wantAction {
				t.Errorf("action %q, want %q", got, c.wantAction)
			}
		})
	}
}

func TestListAudit(t *testing.T) {
	r := newReplica(t)
	// 30 entries, one a minute: actors alternate, every third a login.
	start := time.UnixMilli(reptest0)
	for i := range 30 {
		r.hlc = replication.MakeHLC(start.Add(time.Duration(i)*time.Minute).UnixMilli(), 0) - 1
		action := ActionExport
		if i%3 == 0 {
			action = ActionLogin
		}
		actor := []string{"ann", "bob"}[i%2]
		r.record(t, AuditDraft(action, "t"+string(rune('a'+i%26)), "", WithActor(actor), WithSource("sh-pudong", "10.0.0.1")))
	}
	at := func(i int) replication.HLC {
		return replication.MakeHLC(start.Add(time.Duration(i)*time.Minute).UnixMilli(), 0)
	}

	// All of it, newest first, in pages of 7 that join up exactly.
	var got []replication.HLC
	q := AuditQuery{Limit: 7}
	for pages := 0; ; pages++ {
		es, next, err := ListAudit(r.read(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			got = append(got, e.At)
		}
		if next == "" {
			if pages != 4 {
				t.Errorf("%d pages, want 5", pages+1)
			}
			break
		}
		q.After = next
	}
	var want []replication.HLC
	for i := 29; i >= 0; i-- {
		want = append(want, at(i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged entries %v, want %v", got, want)
	}

	cases := []struct {
		name string
		q    AuditQuery
		want []int // entry numbers, newest first
	}{
		{"by action", AuditQuery{Action: ActionLogin, Limit: 4}, []int{27, 24, 21, 18}},
		{"by actor", AuditQuery{Actor: "ann", Limit: 3}, []int{28, 26, 24}},
		{"by actor and action", AuditQuery{Actor: "bob", Action: ActionLogin}, []int{27, 21, 15, 9, 3}},
		{"time range", AuditQuery{From: start.Add(10 * time.Minute), To: start.Add(13 * time.Minute)}, []int{12, 11, 10}},
		{"time range and action", AuditQuery{Action: ActionLogin, From: start.Add(5 * time.Minute), To: start.Add(13 * time.Minute)}, []int{12, 9, 6}},
		{"nothing after", AuditQuery{From: start.Add(time.Hour)}, nil},
		{"unknown actor", AuditQuery{Actor: "cat"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			es, _, err := ListAudit(r.read(), c.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, e := range es {
				got = append(got, int((e.At.Millis()-start.UnixMilli())/60000))
				if e.Node != "sh-pudong" || e.Remote != "10.0.0.1" || e.Origin != "sh-pudong" {
					t.Errorf("entry source %+v", e)
				}
				if c.q.Actor != "" && e.Actor != c.q.Actor || c.q.Action != "" && e.Action != c.q.Action {
					t.Errorf("entry %+v does not match the query", e)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("entries %v, want %v", got, c.want)
			}
		})
	}

	for _, tok := range []string{"x", "00000000000000zz.sh-pudong", "0000000000000000.SH", "0000000000000000"} {
		if _, _, err := ListAudit(r.read(), AuditQuery{After: tok}); err == nil {
			t.Errorf("page token %q accepted", tok)
		}
	}
}

// The actor is the event's unless the entry names one.
func TestAuditActorDefaultsToTheEventsActor(t *testing.T) {
	r := newReplica(t)
	r.record(t, AuditDraft(ActionExport, "customers", "5 rows"))
	es, _, err := ListAudit(r.read(), AuditQuery{})
	if err != nil || len(es) != 1 || es[0].Actor != "alice" || es[0].Detail != "5 rows" {
		t.Fatalf("entries %+v, %v", es, err)
	}
}

// FuzzListAuditPageToken: a page token from anyone either is refused as
// invalid input or pages without error.
func FuzzListAuditPageToken(f *testing.F) {
	r := newReplica(f)
	for range 3 {
		r.record(f, AuditDraft(ActionLogin, "x", ""))
	}
	f.Add("")
	f.Add("fffe6d7c5f0fffff.sh-pudong")
	f.Add("0000000000000000.a")
	f.Fuzz(func(t *testing.T, tok string) {
		_, _, err := ListAudit(r.read(), AuditQuery{After: tok, Limit: 2})
		if err != nil {
			if _, ok := fault.AsInvalid(err); !ok {
				t.Fatalf("token %q: %v", tok, err)
			}
		}
	})
}

// TestAuditChangesKept: the values an edit changed come back from the log
// as recorded, and an entry without changes reads as before.
func TestAuditChangesKept(t *testing.T) {
	r := newReplica(t)
	changes := []AuditChange{
		{Field: "mobile", Before: "+8613800138000", After: "+8613900139000", Phone: true},
		{Field: "city", Before: "", After: "上海 \"浦东\""},
	}
	r.record(t, AuditDraft("customer.update", "customers/x", "", WithChanges(changes...), WithSource("sh-pudong", "")))
	r.record(t, AuditDraft(ActionExport, "customers", "3 rows"))
	es, _, err := ListAudit(r.read(), AuditQuery{})
	if err != nil || len(es) != 2 {
		t.Fatalf("ListAudit: %d entries, %v", len(es), err)
	}
	if es[0].Changes != nil || es[0].Detail != "3 rows" {
		t.Errorf("entry without changes: %+v", es[0])
	}
	if !slices.Equal(es[1].Changes, changes) {
		t.Errorf("changes = %+v, want %+v", es[1].Changes, changes)
	}
	d := AuditDraft(ActionUserChanged, "users/x", "", WithChanges(slices.Repeat([]AuditChange{{Field: "f", After: "v"}}, 100)...))
	if b := d.Body.(*accessv1.AuditRecorded); len(b.GetChanges()) != maxAuditChanges || !strings.Contains(b.GetDetail(), "100 values changed") {
		t.Errorf("100 changes: %d kept, detail %q", len(b.GetChanges()), b.GetDetail())
	}
}
