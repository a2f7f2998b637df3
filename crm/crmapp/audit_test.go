package crmapp_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	"branchline/access"
	"branchline/app"
	"branchline/auth"
	"branchline/crm"
	"branchline/crm/crmapp"
	"branchline/crm/crmfile"
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

// auditFixture is a node store at br-a, the store counting its Execs, and
// an administrator.
func auditFixture(t *testing.T) (*node.Store, *commits, context.Context, app.Caller) {
	t.Helper()
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
	return st, &commits{Store: st}, ctx, admin
}

// TestAuditedInOneTransaction checks that a delete, a restore, a merge,
// an edit and an import each commit their change and its audit entry in
// one transaction: one Exec whose first event records both (a compound
// event), so that no change is ever recorded without it.
func TestAuditedInOneTransaction(t *testing.T) {
	st, store, ctx, admin := auditFixture(t)
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
			_, err := cs.CommitImport(ctx, admin, crmapp.Import{File: crmapp.File{Format: crmfile.CSV,
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
			// The change's first event records the audit entry too (a
			// compound event).
			evs := store.execs[0]
			if evs[0].Kind != replication.CompoundKind(step.kind, access.KindAuditRecorded) {
				kinds := make([]string, len(evs))
				for i, ev := range evs {
					kinds[i] = ev.Kind
				}
				t.Fatalf("the transaction wrote %v, want %s with the audit entry", kinds, step.kind)
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
	st, _, ctx, admin := auditFixture(t)
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

// TestDetailsAuditedWithValues: a customer's contacts, notes and
// membership, and the blacklist, are audited like a customer's edit: in
// the transaction of the change, each value with what it was, taken from
// what the command read to decide the change, in the order of the form's
// fields. Phone numbers are marked.
func TestDetailsAuditedWithValues(t *testing.T) {
	st, store, ctx, admin := auditFixture(t)
	cs := &crmapp.Customers{Store: store, IDs: replication.NewIDs(), Node: "br-a"}
	ms := &crmapp.Members{Store: store, Node: "br-a"}
	bl := &crmapp.Blacklist{Store: store, Node: "br-a"}
	cu, err := cs.Create(ctx, admin, crmapp.CustomerCreate{Fields: map[string]string{"display_name": "上海申通", "mobile": "13800138000"}})
	if err != nil {
		t.Fatal(err)
	}
	var contact string
	customer := "customers/" + cu.ID
	for _, step := range []struct {
		name, action, target string
		run                  func() error
		want                 []access.AuditChange
		detail               string
	}{
		{"contact added", crmapp.ActionContactAdd, customer, func() error {
			ct, err := cs.AddContact(ctx, admin, crmapp.ContactAdd{Customer: cu.ID, Fields: map[string]string{"display_name": "李经理", "mobile": "139 0013 9000", "title": "经理"}})
			if ct != nil {
				contact = ct.ID
			}
			return err
		}, []access.AuditChange{
			{Field: "contact.display_name", After: "李经理"},
			{Field: "contact.title", After: "经理"},
			{Field: "contact.mobile", After: "+8613900139000", Phone: true},
		}, "李经理"},
		{"contact changed", crmapp.ActionContactUpdate, customer, func() error {
			_, _, err := cs.UpdateContact(ctx, admin, crmapp.ContactUpdate{Customer: cu.ID, Contact: contact, Fields: map[string]string{"title": "总监", "mobile": "13900139000"}})
			return err
		}, []access.AuditChange{{Field: "contact.title", Before: "经理", After: "总监"}}, "李经理"},
		{"contact removed", crmapp.ActionContactRemove, customer, func() error {
			return cs.RemoveContact(ctx, admin, cu.ID, contact)
		}, []access.AuditChange{
			{Field: "contact.display_name", Before: "李经理"},
			{Field: "contact.title", Before: "总监"},
			{Field: "contact.mobile", Before: "+8613900139000", Phone: true},
		}, "李经理"},
		{"note", crmapp.ActionNoteAdd, customer, func() error {
			_, err := cs.AddNote(ctx, admin, cu.ID, "  客户来电询问运费 ")
			return err
		}, []access.AuditChange{{Field: crmapp.AuditNoteField, After: "客户来电询问运费"}}, ""},
		{"points earned", "member.points_earn", customer, func() error {
			_, err := ms.EarnPoints(ctx, admin, crmapp.Movement{Customer: cu.ID, Amount: 120, Purchase: 12000, Note: "六月订单"})
			return err
		}, []access.AuditChange{{Field: crmapp.AuditPointsField, Before: "0", After: "120"}, {Field: crmapp.AuditMoveNoteField, After: "六月订单"}}, ""},
		{"points redeemed", "member.points_redeem", customer, func() error {
			_, err := ms.RedeemPoints(ctx, admin, crmapp.Movement{Customer: cu.ID, Amount: 20})
			return err
		}, []access.AuditChange{{Field: crmapp.AuditPointsField, Before: "120", After: "100"}}, ""},
		{"topped up", "member.balance_top_up", customer, func() error {
			_, err := ms.TopUp(ctx, admin, crmapp.Movement{Customer: cu.ID, Amount: 10000})
			return err
		}, []access.AuditChange{{Field: crmapp.AuditBalanceField, Before: "0", After: "10000"}}, ""},
		{"spent", "member.balance_spend", customer, func() error {
			_, err := ms.Spend(ctx, admin, crmapp.Movement{Customer: cu.ID, Amount: 2550})
			return err
		}, []access.AuditChange{{Field: crmapp.AuditBalanceField, Before: "10000", After: "7450"}}, ""},
		{"flagged", crmapp.ActionBlacklistFlag, crmapp.AuditBlacklistTarget, func() error {
			_, err := bl.Flag(ctx, admin, "021-6234 5678", "推销")
			return err
		}, []access.AuditChange{{Field: crmapp.AuditNumberField, After: "+862162345678", Phone: true}, {Field: crmapp.AuditReasonField, After: "推销"}}, ""},
		{"listed", crmapp.ActionBlacklistList, crmapp.AuditBlacklistTarget, func() error {
			_, err := bl.List(ctx, admin, crmapp.Listing{Number: "021-6234 5678", Reason: "诈骗电话", Policy: crm.PolicyReject})
			return err
		}, []access.AuditChange{{Field: crmapp.AuditNumberField, After: "+862162345678", Phone: true}, {Field: crmapp.AuditReasonField, After: "诈骗电话"},
			{Field: crmapp.AuditPolicyField, After: string(crm.PolicyReject)}}, ""},
		{"unlisted", crmapp.ActionBlacklistUnlist, crmapp.AuditBlacklistTarget, func() error {
			_, err := bl.Unlist(ctx, admin, crmapp.Target{Number: "02162345678"}, "误报")
			return err
		}, []access.AuditChange{{Field: crmapp.AuditNumberField, Before: "+862162345678", Phone: true}, {Field: crmapp.AuditReasonField, After: "误报"}}, ""},
		{"parameters", crmapp.ActionBlacklistParams, crmapp.AuditBlacklistTarget, func() error {
			_, err := bl.SetParams(ctx, admin, crmapp.ParamsChange{Threshold: 5, Policy: crm.PolicyReject})
			return err
		}, []access.AuditChange{
			{Field: crmapp.AuditThresholdField, Before: strconv.Itoa(crm.DefaultBlacklistThreshold), After: "5"},
			{Field: crmapp.AuditPolicyField, Before: string(crm.DefaultBlacklistPolicy), After: string(crm.PolicyReject)},
		}, ""},
	} {
		t.Run(step.name, func(t *testing.T) {
			store.execs = nil
			if err := step.run(); err != nil {
				t.Fatal(err)
			}
			if len(store.execs) != 1 {
				t.Fatalf("%d transactions, want one", len(store.execs))
			}
			// The change and its audit entry in the one transaction: the
			// entry is recorded in the change's first event (a compound).
			evs := store.execs[0]
			if _, att, ok := replication.SplitCompound(evs[0].Kind); !ok || att != access.KindAuditRecorded {
				t.Fatalf("the transaction wrote %d events beginning with %s, want the change with its audit entry", len(evs), evs[0].Kind)
			}
			var es []access.AuditEntry
			err := st.View(func(v replication.Tx) error {
				var err error
				es, _, err = access.ListAudit(v, access.AuditQuery{Action: step.action, Limit: 10})
				return err
			})
			if err != nil || len(es) != 1 {
				t.Fatalf("audit entries of %s: %+v, %v", step.action, es, err)
			}
			e := es[0]
			if !slices.Equal(e.Changes, step.want) || e.Target != step.target || e.Detail != step.detail || e.Actor != "admin" || e.Node != "br-a" {
				t.Errorf("entry %+v\nwant target %s, detail %q, changes %+v", e, step.target, step.detail, step.want)
			}
		})
	}
}
