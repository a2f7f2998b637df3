package warehouseapp

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"branchline/internal/keyset"
	"branchline/replication"
	"branchline/replication/reptest"
	"branchline/warehouse"
)

// catalogue is the views of a replica holding products P1 Tea 250g (tea,
// ¥39), P2 Cup (gift, ¥15), P3 Milk and K Tea set.
func catalogue(t *testing.T) replication.Tx {
	t.Helper()
	reg := replication.NewRegistry()
	warehouse.Register(reg)
	m := reptest.NewMem()
	views, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatal(err)
	}
	b := views.Begin(m)
	for i, p := range []warehouse.Product{
		{ID: "P1", Name: "Tea 250g", Category: "tea", RetailPrice: 3900, CostPrice: 2100, BatchTracked: true, Barcode: "6900000000011"},
		{ID: "P2", Name: "Cup", RetailPrice: 1500, Class: warehouse.ClassGift},
		{ID: "P3", Name: "Milk", BatchTracked: true, FEFO: true, ExpiryDays: 30},
		{ID: "K", Name: "Tea set", Components: []warehouse.Component{{Product: "P2", Qty: 2}, {Product: "P1", Qty: 1}}},
	} {
		d, err := warehouse.SetProduct(b.Views(), p, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, err := proto.Marshal(d.Body)
		if err != nil {
			t.Fatal(err)
		}
		ev := &replication.Event{Origin: "wa", Seq: uint64(i + 1), HLC: replication.HLC(i + 1), Kind: d.Kind, Entity: d.Entity, Actor: "admin", Body: body}
		if out, err := b.Apply(ev); err != nil || out != replication.Applied {
			t.Fatalf("apply %s: %v, %v", ev, out, err)
		}
	}
	if err := b.Finish(); err != nil {
		t.Fatal(err)
	}
	b.Commit()
	return replication.ReadViews(m)
}

func TestSortedProducts(t *testing.T) {
	views := catalogue(t)
	tests := []struct {
		name  string
		q     ProductList
		want  []string
		total int
	}{
		{"by code", ProductList{}, []string{"K", "P1", "P2", "P3"}, 4},
		{"by code, descending", ProductList{Order: keyset.Order{Desc: true}}, []string{"P3", "P2", "P1", "K"}, 4},
		{"by retail price", ProductList{Order: keyset.Order{Sort: ProductByRetail}}, []string{"K", "P3", "P2", "P1"}, 4},
		{"by name", ProductList{Order: keyset.Order{Sort: ProductByName}}, []string{"P2", "P3", "P1", "K"}, 4},
		{"search name", ProductList{Text: "TEA"}, []string{"K", "P1"}, 2},
		{"search barcode", ProductList{Text: "00011"}, []string{"P1"}, 1},
		{"class", ProductList{Class: warehouse.ClassGift}, []string{"P2"}, 1},
		{"category", ProductList{Category: "Tea"}, []string{"P1"}, 1},
		{"two a page, last", ProductList{Limit: 2, Order: keyset.Order{Last: true}}, []string{"P2", "P3"}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.q.Limit == 0 {
				tc.q.Limit = 50
			}
			page, err := sortedProducts(views, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range page.Products {
				got = append(got, p.ID)
			}
			if !slices.Equal(got, tc.want) || page.Total != tc.total {
				t.Errorf("got %v of %d, want %v of %d", got, page.Total, tc.want, tc.total)
			}
		})
	}
	// Pages meet: the page after the first of two is the rest.
	first, err := sortedProducts(views, ProductList{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	second, err := sortedProducts(views, ProductList{Limit: 2, Order: keyset.Order{Cursor: first.Next}})
	if err != nil || len(second.Products) != 2 || second.Products[0].ID != "P2" || second.Next != "" || second.Prev == "" {
		t.Fatalf("second page %+v, %v", second, err)
	}
	// The use case refuses an unknown column (app.CheckList); here it
	// sorts by the code.
	if p, err := sortedProducts(views, ProductList{Order: keyset.Order{Sort: "secret"}, Limit: 1}); err != nil || p.Products[0].ID != "K" {
		t.Errorf("an unknown column: %+v, %v", p, err)
	}
}
