package crm_test

import (
	"errors"
	"testing"
	"time"

	"branchline/crm"
	"branchline/fault"
	"branchline/replication"
)

func TestRecycleBin(t *testing.T) {
	b := newBook(t)
	id := b.create(map[string]string{"display_name": "上海浦东速递", "mobile": "13812345678", "city": "上海"})
	other := b.create(map[string]string{"display_name": "别的客户"})
	b.actor = "carol"
	del := b.apply(crm.DeleteCustomer(b.tx(), id))
	c := b.get(id)
	if !c.Deleted || c.DeletedBy != "carol" || c.DeletedAt != del.HLC {
		t.Fatalf("deleted customer reads %+v", c)
	}
	if cs, _ := crm.ListCustomers(b.tx(), "", 10); len(cs) != 1 || cs[0].ID != other {
		t.Errorf("list shows %v, want only the other customer", names(cs))
	}
	if cs, _ := crm.LookupByPhone(b.tx(), "13812345678"); len(cs) != 0 {
		t.Errorf("phone lookup finds a deleted customer")
	}
	if cs, _, _ := crm.SearchCustomers(b.tx(), crm.Search{Filters: []crm.Filter{{Field: "city", Value: "上海"}}, Limit: 10}); len(cs) != 0 {
		t.Errorf("search finds a deleted customer")
	}
	if dups, _ := crm.FindDuplicates(b.tx(), map[string]string{"display_name": "上海浦东速递"}); len(dups) != 0 {
		t.Errorf("a deleted customer counts as duplicate")
	}
	bin, err := crm.ListDeleted(b.tx(), "", 10)
	if err != nil || len(bin) != 1 || bin[0].ID != id {
		t.Fatalf("recycle bin %v %v", bin, err)
	}
	if _, _, err := crm.UpdateCustomer(b.tx(), id, map[string]string{"city": "杭州"}); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("editing a deleted customer: %v, want ErrNotFound", err)
	}
	if _, err := crm.DeleteCustomer(b.tx(), id); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("deleting twice: %v, want ErrConflict", err)
	}
	if _, err := crm.RestoreCustomer(b.tx(), other); !errors.Is(err, fault.ErrConflict) {
		t.Errorf("restoring a customer not deleted: %v, want ErrConflict", err)
	}
	b.apply(crm.RestoreCustomer(b.tx(), id))
	if c := b.get(id); c.Deleted {
		t.Fatal("restored customer still deleted")
	}
	if cs, _ := crm.LookupByPhone(b.tx(), "13812345678"); len(cs) != 1 {
		t.Errorf("restored customer not found by phone")
	}
	if bin, _ := crm.ListDeleted(b.tx(), "", 10); len(bin) != 0 {
		t.Errorf("recycle bin after restore: %v", bin)
	}
}

// An edit made at one branch while another deletes the customer is kept,
// and shows once the customer is restored, whatever the arrival order.
func TestDeleteConcurrentWithEdit(t *testing.T) {
	ids := replication.NewIDs()
	id := ids.New(time.Now())
	var digests []replication.Digest
	for _, order := range [][]int{{0, 1}, {1, 0}} {
		b := newBook(t)
		b.apply(crm.CreateCustomer(b.tx(), id, map[string]string{"display_name": "客户", "city": "上海"}))
		edit, _, err := crm.UpdateCustomer(b.tx(), id, map[string]string{"city": "杭州"})
		if err != nil {
			t.Fatal(err)
		}
		del, err := crm.DeleteCustomer(b.tx(), id)
		if err != nil {
			t.Fatal(err)
		}
		evs := []*replication.Event{remote(t, "bj-chaoyang", 1, b.hlc+2, edit), remote(t, "gz-tianhe", 1, b.hlc+1, del)}
		for _, i := range order {
			b.applyEvent(evs[i])
		}
		b.hlc += 10
		if c := b.get(id); !c.Deleted || c.Get("city") != "杭州" {
			t.Fatalf("order %v: %+v, want deleted with the edit kept", order, c)
		}
		digests = append(digests, b.views.Digest())
		b.apply(crm.RestoreCustomer(b.tx(), id))
		if c := b.get(id); c.Deleted || c.Get("city") != "杭州" {
			t.Fatalf("order %v after restore: %+v", order, c)
		}
	}
	if digests[0] != digests[1] {
		t.Fatal("arrival orders disagree")
	}
}
