package crm_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
)

func TestContacts(t *testing.T) {
	b := newBook(t)
	id := b.create(map[string]string{"display_name": "上海浦东速递有限公司"})
	ct := b.newID()
	b.apply(crm.AddContact(b.tx(), id, ct, map[string]string{
		"display_name": "王经理", "title": "经理", "department": "采购部",
		"mobile": "138 1234 5678", "email": "wang@example.com", "birthday": "1980-05-01",
	}))
	got, err := crm.GetContact(b.tx(), id, ct)
	if err != nil {
		t.Fatal(err)
	}
	if got.Fields["mobile"] != "+8613812345678" || got.Fields["title"] != "经理" {
		t.Fatalf("contact %+v", got.Fields)
	}
	// The customer is found by its contact's number.
	if cs, err := crm.LookupByPhone(b.tx(), "13812345678"); err != nil || len(cs) != 1 || cs[0].ID != id {
		t.Fatalf("lookup by contact mobile: %v %v", cs, err)
	}

	bad := []struct {
		name        string
		fields      map[string]string
		field, code string
	}{
		{"bad phone", map[string]string{"mobile": "123"}, "mobile", "bad_phone"},
		{"bad birthday", map[string]string{"birthday": "1980-13-01"}, "birthday", "bad_date"},
		{"unknown field", map[string]string{"shoe_size": "42"}, "shoe_size", "unknown_field"},
		{"name too long", map[string]string{"display_name": strings.Repeat("名", 101)}, "display_name", "too_long"},
		{"clear name", map[string]string{"display_name": ""}, "display_name", "required"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			d, _, err := crm.UpdateContact(b.tx(), id, ct, c.fields)
			refused(t, d, err, c.field, c.code)
			if c.code != "required" {
				f := map[string]string{"display_name": "李"}
				for k, v := range c.fields {
					f[k] = v
				}
				d, err := crm.AddContact(b.tx(), id, b.newID(), f)
				refused(t, d, err, c.field, c.code)
			}
		})
	}
	t.Run("add without name", func(t *testing.T) {
		d, err := crm.AddContact(b.tx(), id, b.newID(), map[string]string{"mobile": "13900139000"})
		refused(t, d, err, "display_name", "required")
	})

	d, ok, err := crm.UpdateContact(b.tx(), id, ct, map[string]string{"mobile": "139 0013 9000"})
	if !ok {
		t.Fatal("update changes nothing")
	}
	b.apply(d, err)
	if cs, _ := crm.LookupByPhone(b.tx(), "13812345678"); len(cs) != 0 {
		t.Errorf("old contact number still finds %v", cs)
	}
	b.apply(crm.RemoveContact(b.tx(), id, ct))
	if _, err := crm.GetContact(b.tx(), id, ct); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("removed contact: %v", err)
	}
	if cs, _ := crm.LookupByPhone(b.tx(), "13900139000"); len(cs) != 0 {
		t.Errorf("removed contact's number still finds %v", cs)
	}
	if _, _, err := crm.UpdateContact(b.tx(), id, ct, map[string]string{"title": "总监"}); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("updating a removed contact: %v, want ErrNotFound", err)
	}
}

// A contact removed at one branch while another updates it stays removed
// on every replica, in either arrival order.
func TestContactRemoveWinsOverConcurrentUpdate(t *testing.T) {
	var digests []replication.Digest
	ids := replication.NewIDs()
	id, ct := ids.New(time.Now()), ids.New(time.Now())
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		b := newBook(t)
		b.apply(crm.CreateCustomer(b.tx(), id, map[string]string{"display_name": "客户"}))
		b.apply(crm.AddContact(b.tx(), id, ct, map[string]string{"display_name": "王", "mobile": "13812345678"}))
		upd, _, err := crm.UpdateContact(b.tx(), id, ct, map[string]string{"title": "总监", "mobile": "13900139000"})
		if err != nil {
			t.Fatal(err)
		}
		rem, err := crm.RemoveContact(b.tx(), id, ct)
		if err != nil {
			t.Fatal(err)
		}
		evs := []*replication.Event{
			remote(t, "bj-chaoyang", 1, b.hlc+5, upd),
			remote(t, "gz-tianhe", 1, b.hlc+3, rem),
		}
		for _, i := range order {
			b.applyEvent(evs[i])
		}
		if cs, _ := crm.Contacts(b.tx(), id); len(cs) != 0 {
			t.Fatalf("order %v: contacts %v, want the removed one gone", order, cs)
		}
		if cs, _ := crm.LookupByPhone(b.tx(), "13900139000"); len(cs) != 0 {
			t.Fatalf("order %v: the update's number finds %v", order, cs)
		}
		digests = append(digests, b.views.Digest())
	}
	if digests[0] != digests[1] {
		t.Fatal("the two arrival orders give different views")
	}
}
