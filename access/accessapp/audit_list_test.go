package accessapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/access"
	"branchline/app"
	"branchline/fault"
	"branchline/internal/keyset"
	"branchline/replication"
	"branchline/replication/reptest"
)

// auditLog is a replica's views holding audit entries a test records at
// the times it chooses.
type auditLog struct {
	mu    sync.Mutex
	m     *reptest.Mem
	views *replication.Views
	seq   uint64
}

func newAuditLog(t testing.TB) *auditLog {
	t.Helper()
	reg := replication.NewRegistry()
	access.Register(reg)
	m := reptest.NewMem()
	v, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	return &auditLog{m: m, views: v}
}

// add records action on target by actor at time at.
func (l *auditLog) add(t testing.TB, at time.Time, actor, action, target, detail string) {
	t.Helper()
	d := access.AuditDraft(action, target, detail, access.WithActor(actor), access.WithSource("sh-pudong", "10.0.0.1"))
	body, err := proto.Marshal(d.Body)
	if err != nil {
		t.Fatal(err)
	}
	l.seq++
	ev := &replication.Event{Origin: "sh-pudong", Seq: l.seq, HLC: replication.MakeHLC(at.UnixMilli(), uint16(l.seq)), Kind: d.Kind,
		Entity: d.Entity, Actor: actor, Body: body}
	b := l.views.Begin(l.m)
	if out, err := b.Apply(ev); err != nil || out != replication.Applied {
		t.Fatalf("apply %s: %v, %v", ev, out, err)
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
}

func (l *auditLog) Exec(context.Context, string, replication.Command) ([]*replication.Event, error) {
	return nil, fault.ErrUnavailable
}

func (l *auditLog) View(fn func(views replication.Tx) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fn(replication.ReadViews(l.m))
}

var auditor = app.Caller{Grant: &access.Grant{User: "auditor", Scopes: map[access.Perm]access.Scope{access.AuditRead: access.ScopeAll}}}

func TestAuditList(t *testing.T) {
	l := newAuditLog(t)
	t0 := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	entries := []struct {
		at                            time.Duration
		actor, action, target, detail string
	}{
		{0, "zhang", access.ActionLogin, "", ""},                                 // 0
		{time.Hour, "li", access.ActionUserCreated, "users/01ABC", "王五"},         // 1
		{2 * time.Hour, "zhang", "customer.export", "customers", "230 rows, 上海"}, // 2
		{3 * time.Hour, "admin", access.ActionRoleChanged, "roles/01XYZ", ""},    // 3
		{-48 * time.Hour, "zhang", access.ActionLogin, "", ""},                   // 4: two days before
	}
	for _, e := range entries {
		l.add(t, t0.Add(e.at), e.actor, e.action, e.target, e.detail)
	}
	s := &Admin{Store: l, Now: func() time.Time { return t0.Add(4 * time.Hour) }}
	day := AuditList{From: t0.Add(-time.Hour), To: t0.Add(23 * time.Hour)}
	with := func(q AuditList, f func(*AuditList)) AuditList { f(&q); return q }
	tests := []struct {
		name  string
		q     AuditList
		want  []int
		total int
		field string // of the error, when refused
	}{
		{"the day, newest first", with(day, func(q *AuditList) { q.Desc = true }), []int{3, 2, 1, 0}, 4, ""},
		{"the last 30 days by default", AuditList{Order: keyset.Order{Desc: true}}, []int{3, 2, 1, 0, 4}, 5, ""},
		{"by actor", with(day, func(q *AuditList) { q.Sort = AuditByActor }), []int{3, 1, 0, 2}, 4, ""},
		{"by action, descending", with(day, func(q *AuditList) { q.Sort, q.Desc = AuditByAction, true }), []int{1, 3, 0, 2}, 4, ""},
		{"an actor", with(day, func(q *AuditList) { q.Actor = "zhang" }), []int{0, 2}, 2, ""},
		{"an action", with(day, func(q *AuditList) { q.Action = access.ActionLogin }), []int{0}, 1, ""},
		{"search a detail", with(day, func(q *AuditList) { q.Text = "上海" }), []int{2}, 1, ""},
		{"search a target", with(day, func(q *AuditList) { q.Text = "ROLES/" }), []int{3}, 1, ""},
		{"two a page, the last", with(day, func(q *AuditList) { q.Limit, q.Last = 2, true }), []int{2, 3}, 4, ""},
		{"a start long ago: 92 days from it", AuditList{From: t0.AddDate(-1, 0, 0)}, nil, 0, ""},
		{"too many days", AuditList{From: t0.AddDate(-1, 0, 0), To: t0}, nil, 0, "end_time"},
		{"an end before the start", AuditList{From: t0, To: t0.Add(-time.Hour)}, nil, 0, "end_time"},
		{"an unknown column", AuditList{Order: keyset.Order{Sort: "secret"}}, nil, 0, "sort"},
		{"a bad cursor", AuditList{Order: keyset.Order{Cursor: "AAAA"}}, nil, 0, "page_token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, err := s.AuditList(context.Background(), auditor, tc.q)
			if tc.field != "" {
				if inv, ok := fault.AsInvalid(err); !ok || inv.Field != tc.field {
					t.Fatalf("error %v, want one on %s", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, want []string
			for _, e := range page.Items {
				got = append(got, e.Actor+" "+e.Action+" "+e.Time().UTC().Format(time.DateTime))
			}
			for _, i := range tc.want {
				e := entries[i]
				want = append(want, e.actor+" "+e.action+" "+t0.Add(e.at).UTC().Format(time.DateTime))
			}
			if !slices.Equal(got, want) || page.Total != tc.total {
				t.Errorf("got %v of %d, want %v of %d", got, page.Total, want, tc.total)
			}
		})
	}
	if _, err := s.AuditList(context.Background(), app.Caller{Grant: &access.Grant{User: "nobody"}}, day); !errors.Is(err, fault.ErrDenied) {
		t.Errorf("without the audit permission: %v", err)
	}
	defer func(n int) { maxListedAudit = n }(maxListedAudit)
	maxListedAudit = 3
	if _, err := s.AuditList(context.Background(), auditor, day); err == nil {
		t.Error("a window of 4 entries read with a bound of 3")
	} else if inv, ok := fault.AsInvalid(err); !ok || inv.Code != "too_many_entries" {
		t.Errorf("too many entries: %v", err)
	}
}

// TestAuditPagesMatchLog: whatever the log holds and whatever a list
// asks for, its total is the number of entries the filter keeps and its
// pages, forward from the first or back from the last, hold them in the
// column's order, as a brute-force filter and sort does.
func TestAuditPagesMatchLog(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	rapid.Check(t, func(rt *rapid.T) {
		l := newAuditLog(t)
		for i := range rapid.IntRange(0, 25).Draw(rt, "entries") {
			l.add(t, t0.Add(time.Duration(rapid.IntRange(0, 96).Draw(rt, "hour"))*time.Hour),
				rapid.SampledFrom([]string{"ann", "bob", "cai"}).Draw(rt, "actor"),
				rapid.SampledFrom([]string{access.ActionLogin, access.ActionLogout, "customer.export"}).Draw(rt, "action"),
				"", fmt.Sprintf("d%d", i%4))
		}
		q := AuditList{Actor: rapid.SampledFrom([]string{"", "bob"}).Draw(rt, "f-actor"),
			Action: rapid.SampledFrom([]string{"", access.ActionLogin}).Draw(rt, "f-action"),
			From:   t0.Add(time.Duration(rapid.IntRange(0, 48).Draw(rt, "from")) * time.Hour),
			Text:   rapid.SampledFrom([]string{"", "d1", "ann"}).Draw(rt, "text"),
			Order:  keyset.Order{Sort: rapid.SampledFrom(AuditColumns).Draw(rt, "sort"), Desc: rapid.Bool().Draw(rt, "desc")},
			Limit:  rapid.IntRange(1, 6).Draw(rt, "limit")}
		q.To = q.From.Add(time.Duration(rapid.IntRange(1, 60).Draw(rt, "hours")) * time.Hour)
		s := &Admin{Store: l, Now: func() time.Time { return t0.Add(200 * time.Hour) }}
		// Brute force, over what the log keeps of every entry.
		es, _, err := readAll(l)
		if err != nil {
			rt.Fatal(err)
		}
		var want []access.AuditEntry
		for _, e := range es {
			if e.Time().Before(q.From) || !e.Time().Before(q.To) || q.Actor != "" && e.Actor != q.Actor ||
				q.Action != "" && e.Action != q.Action || q.Text != "" && !auditHolds(e, q.Text) {
				continue
			}
			want = append(want, e)
		}
		key := func(e access.AuditEntry) []byte {
			return keyset.VarKey(auditSortValue(e, q.Sort), fmt.Sprintf("%016x.%s", uint64(e.At), e.Origin))
		}
		slices.SortFunc(want, func(a, b access.AuditEntry) int {
			c := bytes.Compare(key(a), key(b))
			if q.Desc {
				return -c
			}
			return c
		})
		var wantAt []replication.HLC
		for _, e := range want {
			wantAt = append(wantAt, e.At)
		}
		for _, back := range []bool{false, true} {
			q := q
			q.Last = back
			var got []replication.HLC
			for pages := 0; pages < 50; pages++ {
				page, err := s.AuditList(context.Background(), auditor, q)
				if err != nil {
					rt.Fatal(err)
				}
				if page.Total != len(want) {
					rt.Fatalf("total %d, want %d", page.Total, len(want))
				}
				var at []replication.HLC
				for _, e := range page.Items {
					at = append(at, e.At)
				}
				if back {
					got = append(at, got...)
					if page.Prev == "" {
						break
					}
					q.Last, q.Cursor, q.Back = false, page.Prev, true
				} else {
					got = append(got, at...)
					if page.Next == "" {
						break
					}
					q.Cursor = page.Next
				}
			}
			if !slices.Equal(got, wantAt) {
				rt.Fatalf("pages (back %v) %v, want %v", back, got, wantAt)
			}
		}
	})
}

// readAll reads every entry of the log.
func readAll(l *auditLog) ([]access.AuditEntry, string, error) {
	var es []access.AuditEntry
	var next string
	err := l.View(func(views replication.Tx) error {
		var err error
		es, next, err = access.ListAudit(views, access.AuditQuery{Limit: 100000})
		return err
	})
	return es, next, err
}
