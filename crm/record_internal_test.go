package crm

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	eventv1 "branchline/gen/branchline/event/v1"
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
