package crm_test

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	"branchline/crm"
	"branchline/fault"
	crmv1 "branchline/gen/branchline/crm/v1"
	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// A small world, so that origins collide on the same customers, fields and
// numbers: concurrent creates of one id, concurrent writes of one field,
// one number moving between fields and customers.
var (
	propCustomers = func() []string {
		var out []string
		for i := range 3 {
			var e [10]byte
			e[9] = byte(i)
			out = append(out, ulid.MustNew(ulid.Timestamp(time.UnixMilli(reptest.BaseMillis)), &fixedEntropy{e}).String())
		}
		return out
	}()
	propNumbers = []string{"+8613800138000", "+8613900139000", "+861088888888"}
	propFields  = []string{"display_name", "phone", "mobile", "finance_phone", "city"}
	propTexts   = []string{"浦东五金", "Acme", "上海"}
)

type fixedEntropy struct{ b [10]byte }

func (f *fixedEntropy) Read(p []byte) (int, error) { return copy(p, f.b[:]), nil }

func isPhone(field string) bool {
	return slices.Contains([]string{"phone", "mobile", "finance_phone"}, field)
}

func drawValue(t *rapid.T, field string) string {
	switch {
	case isPhone(field):
		// "" clears the number.
		return rapid.SampledFrom(append([]string{""}, propNumbers...)).Draw(t, field)
	case field == "display_name":
		return rapid.SampledFrom(propTexts).Draw(t, field)
	default:
		return rapid.SampledFrom(append([]string{""}, propTexts...)).Draw(t, field)
	}
}

func drawFields(t *rapid.T, create bool) []*eventv1.FieldValue {
	var out []*eventv1.FieldValue
	for _, f := range propFields {
		if create && f == "display_name" || rapid.IntRange(0, 2).Draw(t, "write-"+f) == 0 {
			out = append(out, &eventv1.FieldValue{Field: f, Value: drawValue(t, f)})
		}
	}
	if len(out) == 0 {
		f := rapid.SampledFrom(propFields[1:]).Draw(t, "field")
		out = append(out, &eventv1.FieldValue{Field: f, Value: drawValue(t, f)})
	}
	return out
}

// genCustomerStreams draws the customer events of two or three origins.
// Every event is one the hub accepts (Registry.Check).
func genCustomerStreams(t *rapid.T, reg *replication.Registry) [][]*replication.Event {
	g := reptest.NewOrigins([]string{"sh-pudong", "bj-chaoyang", "gz-tianhe"}[:rapid.IntRange(2, 3).Draw(t, "origins")]...)
	for i, n := 0, rapid.IntRange(1, 40).Draw(t, "events"); i < n; i++ {
		o := rapid.IntRange(0, len(g.Names)-1).Draw(t, "origin")
		id := rapid.SampledFrom(propCustomers).Draw(t, "customer")
		var kind string
		var msg proto.Message
		if rapid.IntRange(0, 3).Draw(t, "create") == 0 {
			kind, msg = crm.KindCustomerCreated, &crmv1.CustomerCreated{Fields: drawFields(t, true)}
		} else {
			kind, msg = crm.KindCustomerFieldSet, &crmv1.CustomerFieldSet{Fields: drawFields(t, false)}
		}
		appendChecked(t, g, reg, o, kind, id, msg)
	}
	return g.Streams
}

// observe is everything a user can read of the customers: each customer
// (or that it does not exist) and each number's lookup.
func observe(t *rapid.T, views replication.Tx) string {
	var b strings.Builder
	for _, id := range propCustomers {
		c, err := crm.GetCustomer(views, id)
		switch {
		case err == nil:
			fields := slices.Sorted(maps.Keys(c.Fields))
			fmt.Fprintf(&b, "%s origin=%s created=%v updated=%v", id, c.Origin, c.Created, c.Updated)
			for _, f := range fields {
				fmt.Fprintf(&b, " %s=%q", f, c.Fields[f])
			}
			b.WriteString("\n")
		case errors.Is(err, fault.ErrNotFound):
			fmt.Fprintf(&b, "%s absent\n", id)
		default:
			t.Fatalf("GetCustomer(%s): %v", id, err)
		}
	}
	for _, n := range propNumbers {
		cs, err := crm.LookupByPhone(views, n)
		if err != nil {
			t.Fatalf("LookupByPhone(%s): %v", n, err)
		}
		fmt.Fprintf(&b, "%s ->", n)
		for _, c := range cs {
			fmt.Fprintf(&b, " %s", c.ID)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// checkPhoneIndex is the oracle for the index: a number finds exactly the
// existing customers that hold it in one of their phone fields.
func checkPhoneIndex(t *rapid.T, views replication.Tx) {
	for _, n := range propNumbers {
		var want []string
		for _, id := range propCustomers {
			c, err := crm.GetCustomer(views, id)
			if err != nil {
				continue
			}
			if c.Get("phone") == n || c.Get("mobile") == n || c.Get("finance_phone") == n {
				want = append(want, id)
			}
		}
		cs, err := crm.LookupByPhone(views, n)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, c.ID)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("LookupByPhone(%s) = %v, but the customers holding it are %v", n, got, want)
		}
	}
}

// However the customer events of several origins are interleaved and
// re-delivered, every replica ends with the same digest, the same
// customers and the same phone lookups, and the phone index agrees with
// the fields.
func TestCustomerReplicasConverge(t *testing.T) {
	reg := replication.NewRegistry()
	crm.RegisterCustomers(reg)
	rapid.Check(t, func(t *rapid.T) {
		streams := genCustomerStreams(t, reg)
		var first string
		var firstDigest replication.Digest
		for i := range 3 {
			m, views := reptest.ApplyAll(t, reg, reptest.Interleave(t, streams, fmt.Sprintf("replica%d", i)))
			got := observe(t, replication.ReadViews(m))
			checkPhoneIndex(t, replication.ReadViews(m))
			if i == 0 {
				first, firstDigest = got, views.Digest()
				continue
			}
			if views.Digest() != firstDigest {
				t.Fatalf("replica %d digest %v, replica 0 %v", i, views.Digest(), firstDigest)
			}
			if got != first {
				t.Fatalf("replica %d reads\n%s\nreplica 0 reads\n%s", i, got, first)
			}
		}
	})
}
