package crmapp_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"branchline/access"
	"branchline/app"
	"branchline/auth"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/kinds"
	"branchline/node"
	"branchline/replication"
)

// commits is a node's real store that keeps what each Exec wrote.
type commits struct {
	app.Store
	execs [][]*replication.Event
}

func (s *commits) Exec(ctx context.Context, actor string, cmd replication.Command) ([]*replication.Event, error) {
	evs, err := s.Store.Exec(ctx, actor, cmd)
	if err == nil {
		s.execs = append(s.execs, evs)
	}
	return evs, err
}

// TestAuditedInOneTransaction checks that a delete, a restore, a merge,
// an edit and an import each commit their change and its audit entry in
// one transaction: one Exec whose last event is the audit entry, so that no
// change is ever recorded without it.
func TestAuditedInOneTransaction(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := node.OpenStore(node.StoreConfig{Dir: t.TempDir(), ID: "br-a", Registry: kinds.Registry(), Log: log, Observer: node.Observer{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}})
	admin, err := app.CallerOf(ctx, app.AdminGrants)
	if err != nil {
		t.Fatal(err)
	}
	store := &commits{Store: st}
	cs := &crmapp.Customers{Store: store, IDs: replication.NewIDs(), Node: "br-a"}
	create := func(name, mobile string) string {
		t.Helper()
		c, err := cs.Create(ctx, admin, crmapp.CustomerCreate{Fields: map[string]string{"display_name": name, "mobile": mobile}, AllowDuplicate: true})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	a, b := create("上海申通", "13800138000"), create("申通上海", "13800138000")

	for _, step := range []struct {
		name, action, kind string
		run                func() error
	}{
		{"delete", "customer.delete", crm.KindCustomerDeleted, func() error { _, err := cs.Delete(ctx, admin, b); return err }},
		{"restore", "customer.undelete", crm.KindCustomerRestored, func() error { _, err := cs.Restore(ctx, admin, b); return err }},
		{"merge", "customer.merge", crm.KindCustomerMerged, func() error {
			_, err := cs.Merge(ctx, admin, crmapp.Merge{Winner: a, Loser: b})
			return err
		}},
		{"update", "customer.update", crm.KindCustomerFieldSet, func() error {
			_, _, err := cs.Update(ctx, admin, crmapp.CustomerUpdate{ID: a, Fields: map[string]string{"mobile": "13900139000", "city": "上海"}})
			return err
		}},
		{"import", "customer.import", crm.KindCustomerCreated, func() error {
			_, err := cs.CommitImport(ctx, admin, crmapp.Import{File: crmapp.File{Format: crm.CSV,
				Content: []byte("客户名称,移动电话\n北京顺丰,13900139000\n广州圆通,13700137000\n")}})
			return err
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			store.execs = nil
			if err := step.run(); err != nil {
				t.Fatal(err)
			}
			if len(store.execs) != 1 {
				t.Fatalf("%d transactions, want one", len(store.execs))
			}
			evs := store.execs[0]
			last := evs[len(evs)-1]
			if len(evs) < 2 || evs[0].Kind != step.kind || last.Kind != access.KindAuditRecorded {
				kinds := make([]string, len(evs))
				for i, ev := range evs {
					kinds[i] = ev.Kind
				}
				t.Fatalf("the transaction wrote %v, want %s then the audit entry", kinds, step.kind)
			}
			var entries []access.AuditEntry
			err := st.View(func(v replication.Tx) error {
				var err error
				entries, _, err = access.ListAudit(v, access.AuditQuery{Action: step.action, Limit: 10})
				return err
			})
			if err != nil || len(entries) != 1 || entries[0].Actor != "admin" {
				t.Fatalf("audit entries of %s: %+v, %v", step.action, entries, err)
			}
		})
	}
}

// TestEditAuditedWithValues: a customer's edit is audited with each value
// it changed and what it was, taken from the record the edit read; phone
// numbers are kept whole and marked, for the log to mask them as pages do.
func TestEditAuditedWithValues(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := node.OpenStore(node.StoreConfig{Dir: t.TempDir(), ID: "br-a", Registry: kinds.Registry(), Log: log, Observer: node.Observer{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := auth.WithPrincipal(context.Background(), &auth.Principal{User: "admin", Roles: []string{auth.RoleAdmin}})
	admin, err := app.CallerOf(ctx, app.AdminGrants)
	if err != nil {
		t.Fatal(err)
	}
	cs := &crmapp.Customers{Store: st, IDs: replication.NewIDs(), Node: "br-a"}
	cu, err := cs.Create(ctx, admin, crmapp.CustomerCreate{Fields: map[string]string{"display_name": "上海申通", "mobile": "13800138000", "city": "上海"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, changed, err := cs.Update(ctx, admin, crmapp.CustomerUpdate{ID: cu.ID, Fields: map[string]string{
		"mobile": "139 0013 9000", "city": "上海", "address": "浦东新区 1 号"}}); err != nil || !changed {
		t.Fatalf("update: changed %v, %v", changed, err)
	}
	var es []access.AuditEntry
	err = st.View(func(v replication.Tx) error {
		es, _, err = access.ListAudit(v, access.AuditQuery{Action: crmapp.ActionCustomerUpdate})
		return err
	})
	want := []access.AuditChange{
		{Field: "address", After: "浦东新区 1 号"},
		{Field: "mobile", Before: "+8613800138000", After: "+8613900139000", Phone: true},
	}
	if err != nil || len(es) != 1 {
		t.Fatalf("entries: %+v, %v", es, err)
	}
	got := slices.SortedFunc(slices.Values(es[0].Changes), func(a, b access.AuditChange) int { return strings.Compare(a.Field, b.Field) })
	if !slices.Equal(got, want) || es[0].Target != "customers/"+cu.ID || es[0].Node != "br-a" {
		t.Errorf("entry %+v, want target customers/%s, changes %+v", es[0], cu.ID, want)
	}
}
