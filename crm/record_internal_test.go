package crm

import (
	"maps"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	eventv1 "branchline/gen/branchline/event/v1"
	"branchline/replication"
	"branchline/replication/reptest"
)

// The fields of a creation unpack to the fields a record keeps, each once
// — the first the event names — with their values, in the event's order.
func TestPackFieldsRoundTrip(t *testing.T) {
	names := []string{"display_name", "city", "mobile", "note", "custom.vip_tier", "custom.Bad Key", "no_such_field", ""}
	rapid.Check(t, func(t *rapid.T) {
		var fields []*eventv1.FieldValue
		var want [][2]string
		for range rapid.IntRange(0, 12).Draw(t, "n") {
			fv := &eventv1.FieldValue{Field: rapid.SampledFrom(names).Draw(t, "name"), Value: rapid.String().Draw(t, "value")}
			fields = append(fields, fv)
			name, keep := recordFieldName(fv.Field)
			if keep && !slices.ContainsFunc(want, func(p [2]string) bool { return p[0] == name }) {
				want = append(want, [2]string{name, fv.Value})
			}
		}
		var got [][2]string
		if err := unpackFields(packFields(fields), func(n, v string) { got = append(got, [2]string{n, v}) }); err != nil {
			t.Fatalf("unpack: %v", err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("unpacked %q, want %q", got, want)
		}
	})
}

// Stored bytes that are not packed fields give an error, never a panic or
// a field read past the end.
func FuzzUnpackFields(f *testing.F) {
	f.Add(packFields([]*eventv1.FieldValue{{Field: "display_name", Value: "上海浦东速递"}, {Field: "city", Value: ""}}))
	f.Add([]byte{0x05, 'c', 'i'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		total := 0
		err := unpackFields(b, func(n, v string) { total += len(n) + len(v) })
		if err == nil && total > len(b) {
			t.Fatalf("unpacked %d bytes of names and values from %d", total, len(b))
		}
	})
}

// A record an earlier release wrote — one register per field, its
// creation's included — reads as before, and combines with this release's
// creation registers by stamp.
func TestRecordReadsEarlierReleases(t *testing.T) {
	m := reptest.NewMem()
	id := replication.NewIDs().New(time.UnixMilli(reptest.BaseMillis))
	at := func(ms int64, origin string) replication.Stamp {
		return replication.Stamp{HLC: replication.MakeHLC(reptest.BaseMillis+ms, 0), Origin: origin}
	}
	old := at(10, "br-old")
	for k, v := range map[string]string{string(custKey(id)): "br-old", string(fieldKey(id, "display_name")): "旧名", string(fieldKey(id, "city")): "上海"} {
		if err := replication.PutRegister(m, []byte(k), []byte(v), old); err != nil {
			t.Fatal(err)
		}
	}
	c, err := readCustomer(m, id)
	if err != nil || c == nil {
		t.Fatalf("readCustomer: %v, %v", c, err)
	}
	if c.Origin != "br-old" || c.Created != old.HLC || c.Fields["display_name"] != "旧名" || c.Fields["city"] != "上海" {
		t.Fatalf("earlier release's record read as %+v", c)
	}
	create := func(s replication.Stamp, fields ...string) {
		t.Helper()
		var fvs []*eventv1.FieldValue
		for i := 0; i < len(fields); i += 2 {
			fvs = append(fvs, &eventv1.FieldValue{Field: fields[i], Value: fields[i+1]})
		}
		if err := writeCreatedFields(m, id, &replication.Event{Origin: s.Origin, HLC: s.HLC}, fvs); err != nil {
			t.Fatal(err)
		}
	}
	create(at(5, "br-early"), "city", "北京", "note", "早")          // older than the record: loses where it competes
	create(at(20, "br-new"), "display_name", "新名", "address", "") // newer: wins
	c, err = readCustomer(m, id)
	if err != nil || c == nil {
		t.Fatalf("readCustomer: %v, %v", c, err)
	}
	want := map[string]string{"display_name": "新名", "city": "上海", "note": "早"}
	if !maps.Equal(c.Fields, want) || c.Updated != at(20, "").HLC {
		t.Fatalf("combined record read as updated %v, fields %q; want 20 ms, %q", c.Updated, c.Fields, want)
	}
}
