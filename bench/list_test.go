package bench

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"branchline/crm"
	"branchline/internal/keyset"
	"branchline/replication"
)

// BenchmarkCustomerList measures the customer list on a Badger node store
// holding -customers customers (the sample of BenchmarkCustomerLookup,
// each owned by one of 200 agents):
//
//	go test -run XXX -bench CustomerList -benchtime 50x -timeout 2h ./bench -customers 1000000
//
// For each sortable column, ascending and descending, without a filter,
// filtered on a city (one customer in 12) and on an owner (one in 200),
// it reads the first page, a page from the middle (after a cursor taken
// there) and the last page, 50 customers each with the exact total, in
// one read transaction (s.View), and reports p50 and p99.
func BenchmarkCustomerList(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a store of -customers customers")
	}
	s, _ := lookupNode(b, *searchCustomers, func(i int, f map[string]string) {
		f["owner"] = fmt.Sprintf("agent%03d", (i*37)%200)
	})
	filters := []struct {
		name string
		f    []crm.Filter
	}{
		{"all", nil},
		{"city", []crm.Filter{{Field: "city", Op: crm.OpEquals, Value: "上海"}}},
		{"owner", []crm.Filter{{Field: "owner", Op: crm.OpEquals, Value: "agent007"}}},
	}
	for _, col := range crm.SortColumns {
		for _, desc := range []bool{false, true} {
			for _, f := range filters {
				base := crm.List{Search: crm.Search{Filters: f.f}, Limit: 50, Order: keyset.Order{Sort: col, Desc: desc}}
				var middle string
				var total int
				err := s.View(func(views replication.Tx) error {
					l := base
					p, err := crm.SortedCustomers(views, l)
					if err != nil {
						return err
					}
					total = p.Total
					l.Skip = p.Total / 2
					p, err = crm.SortedCustomers(views, l)
					middle = p.Prev
					return err
				})
				if err != nil || middle == "" {
					b.Fatalf("middle cursor of %s %v %s: %q, %v", col, desc, f.name, middle, err)
				}
				dir := "asc"
				if desc {
					dir = "desc"
				}
				for _, at := range []string{"first", "middle", "last"} {
					l := base
					switch at {
					case "middle":
						l.Cursor = middle
					case "last":
						l.Last = true
					}
					b.Run(fmt.Sprintf("%s-%s-%s-%s", col, dir, f.name, at), func(b *testing.B) {
						var lat []time.Duration
						for b.Loop() {
							start := time.Now()
							var p crm.ListPage
							err := s.View(func(views replication.Tx) error {
								var err error
								p, err = crm.SortedCustomers(views, l)
								return err
							})
							lat = append(lat, time.Since(start))
							if err != nil {
								b.Fatal(err)
							}
							if len(p.Customers) == 0 || p.Total != total {
								b.Fatalf("%d customers of %d, want a page of %d", len(p.Customers), p.Total, total)
							}
						}
						slices.Sort(lat)
						b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
						b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
						b.ReportMetric(float64(total), "total")
					})
				}
			}
		}
	}
}
