package stockui

import (
	"slices"
	"testing"

	"branchline/warehouse"
	"branchline/web"
)

// TestStockCatalogNames checks that every name the warehouse pages build
// a message key from at run time (types, classes, kinds, statuses,
// alerts) has a text in every language, and that the move form offers
// exactly the domain's types.
func TestStockCatalogNames(t *testing.T) {
	var keys []string
	add := func(prefix string, names ...string) {
		for _, n := range names {
			keys = append(keys, prefix+n)
		}
	}
	add("stock.type.receipt.", warehouse.ReceiptTypes...)
	add("stock.type.issue.", warehouse.IssueTypes...)
	add("stock.type.", "bin_move.bin_move", "stocktake.stocktake", "transfer_out.transfer", "transfer_in.transfer")
	add("stock.dir.", "receipt", "issue", "bin_move", "stocktake", "transfer_out", "transfer_in")
	add("stock.class.", warehouse.Classes...)
	add("stock.bin_kind.", warehouse.BinKinds...)
	add("stock.alert.", warehouse.AlertBelowMin, warehouse.AlertAboveMax, warehouse.AlertBelowSafety, warehouse.AlertExpiring,
		warehouse.AlertExpired, warehouse.AlertEscrowDeficit)
	add("stock.stocktake.type.", warehouse.StocktakeTypes...)
	add("stock.stocktake.status.", warehouse.StocktakeOpen, warehouse.StocktakePosted, warehouse.StocktakeCancelled)
	add("stock.transfer.status.", warehouse.TransferInTransit, warehouse.TransferReceived, warehouse.TransferReceivedEarly)
	add("stock.reservation.status.", warehouse.ReservationActive, warehouse.ReservationReleased, warehouse.ReservationShipped)
	add("stock.notice.status.", warehouse.NoticePending, warehouse.NoticeConfirmed)
	add("stock.purchase.status.", warehouse.POOpen, warehouse.POReceived, warehouse.POClosed)
	for _, sec := range stockSections {
		keys = append(keys, sec.key)
	}
	for _, l := range web.Langs {
		p, err := web.LangPage(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if !p.HasText(k) {
				t.Errorf("%s lacks %q", l, k)
			}
		}
	}
	for dir, want := range map[string][]string{"receipt": warehouse.ReceiptTypes, "issue": warehouse.IssueTypes} {
		i := slices.IndexFunc(moveKinds, func(k moveKind) bool { return k.direction == dir })
		if i < 0 || !slices.Equal(moveKinds[i].types, want) {
			t.Errorf("the move form offers %s types %v, the domain has %v", dir, moveKinds, want)
		}
	}
	if !slices.Equal(productClasses, warehouse.Classes) || !slices.Equal(binKinds, warehouse.BinKinds) || !slices.Equal(stocktakeTypes, warehouse.StocktakeTypes) {
		t.Error("the forms' classes, bin kinds or stocktake types differ from the domain's")
	}
}

func TestStockParseComponents(t *testing.T) {
	cases := []struct {
		name, in string
		want     []warehouse.Component
		bad      bool
	}{
		{"blank", " ", nil, false},
		{"one", "A100*2", []warehouse.Component{{Product: "A100", Qty: 2}}, false},
		{"default one", "A100, B200*3", []warehouse.Component{{Product: "A100", Qty: 1}, {Product: "B200", Qty: 3}}, false},
		{"chinese commas", "A100*2，B200*1、C300", []warehouse.Component{{Product: "A100", Qty: 2}, {Product: "B200", Qty: 1}, {Product: "C300", Qty: 1}}, false},
		{"bad quantity", "A100*two", nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseComponents(c.in)
			if (err != nil) != c.bad {
				t.Fatalf("error %v, want bad=%v", err, c.bad)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			for i := range got {
				if got[i].Product != c.want[i].Product || got[i].Qty != c.want[i].Qty {
					t.Errorf("component %d: %v, want %v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestStockQtyAndDay(t *testing.T) {
	if n, err := parseQty("quantity", " -5 "); err != nil || n != -5 {
		t.Errorf("-5: %d %v (a minus sign is the domain's to refuse)", n, err)
	}
	if _, err := parseQty("quantity", "1.5"); err == nil {
		t.Error("1.5 is a quantity")
	}
	k, err := web.New(web.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if ts, err := k.ParseDay("expires", "2026-02-30"); err == nil {
		t.Errorf("2026-02-30 is %v", ts)
	}
	if ts, err := k.ParseDay("expires", "2026-03-01"); err != nil || k.DateText(ts) != "2026-03-01" {
		t.Errorf("2026-03-01: %v %v", ts, err)
	}
	if !validMoveKind("issue.requisition") || validMoveKind("issue.purchase") || validMoveKind("bin_move.other") {
		t.Error("move kinds")
	}
	if recordLink("01HZX5Q8W3T0000000007Q3K9M.out") != "/stock/transfers/01HZX5Q8W3T0000000007Q3K9M" || recordLink("01HZX5Q8W3T0000000007Q3K9M") != "" {
		t.Error("record links")
	}
}
