package crm

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

// An index record decodes to the entries it was encoded from, for any
// entries and any customer id — keys ending in the id or not, sharing
// prefixes or not — and equal sets encode equally.
func TestIndexRecordRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		id := rapid.StringMatching(`[0-9A-Z]{1,26}`).Draw(t, "id")
		prefixes := []string{"crm\x00live\x00", "crm\x00so\x00name\x00", "crm\x00so\x00", "crm\x00cnt\x00", "", "x"}
		entries := rapid.MapOf(
			rapid.Custom(func(t *rapid.T) string {
				k := rapid.SampledFrom(prefixes).Draw(t, "prefix") + rapid.String().Draw(t, "middle")
				if rapid.Bool().Draw(t, "ends with id") {
					k += id
				}
				return k
			}),
			// Values repeat (a list order's entries share theirs).
			rapid.OneOf(rapid.SampledFrom([]string{"", "wang\x00上海", "x"}), rapid.String()),
		).Draw(t, "entries")
		b := encodeIndexRecord(id, entries)
		got, err := decodeIndexRecord(id, b)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !maps.Equal(got, entries) && (len(got) != 0 || len(entries) != 0) {
			t.Fatalf("decoded %q, encoded %q", got, entries)
		}
		if again := encodeIndexRecord(id, maps.Clone(got)); string(again) != string(b) {
			t.Fatalf("equal entries encoded differently: %x and %x", b, again)
		}
		// The walk stops where it is told to, in key order.
		keys := slices.Sorted(maps.Keys(entries))
		if len(keys) > 0 {
			stop := rapid.IntRange(0, len(keys)-1).Draw(t, "stop")
			var seen []string
			if err := eachIndexEntry(id, b, func(k, _ []byte) bool {
				seen = append(seen, string(k))
				return len(seen) <= stop
			}); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seen, keys[:stop+1]) {
				t.Fatalf("walk saw %q, want %q", seen, keys[:stop+1])
			}
		}
	})
}

// A record written by the releases before front coding (each key and value
// length-prefixed) still reads: a customer's next reindex rewrites it.
func TestIndexRecordOldFormat(t *testing.T) {
	id := "01JCUSTOMER"
	entries := map[string]string{
		"v\x00crm\x00live\x00" + id: "", "v\x00crm\x00st\x00" + id: "上海浦东\x0013812345678", "v\x00crm\x00cnt\x00all": "",
	}
	var old []byte
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		old = binary.AppendUvarint(old, uint64(len(k)))
		old = append(old, k...)
		old = binary.AppendUvarint(old, uint64(len(entries[k])))
		old = append(old, entries[k]...)
	}
	got, err := decodeIndexRecord(id, old)
	if err != nil || !maps.Equal(got, entries) {
		t.Fatalf("old record decoded to %q, %v; want %q", got, err, entries)
	}
	if n, o := len(encodeIndexRecord(id, entries)), len(old); n >= o {
		t.Errorf("front-coded record of %d bytes, the old one %d", n, o)
	}
}

// A damaged record is an error, not a wrong set of entries.
func TestIndexRecordCorrupt(t *testing.T) {
	id := "01JCUSTOMER"
	good := encodeIndexRecord(id, map[string]string{"crm\x00live\x00" + id: "", "crm\x00nm\x00abc\x00" + id: "上海"})
	for name, b := range map[string][]byte{
		"shares more than the previous key has": {frontCoded, 5, 2, 'a', 0},
		"rest past the end":                     {frontCoded, 0, 20, 'a'},
		"value past the end":                    {frontCoded, 0, 2, 'a', 9, 'x'},
		"first value said repeated":             {frontCoded, 0, 2, 'a', 0},
		"cut in a value":                        good[:len(good)-1],
		"old format cut":                        {10, 'a'},
	} {
		if _, err := decodeIndexRecord(id, b); !errors.Is(err, errBadIndexRecord) {
			t.Errorf("%s: %v, want %v", name, err, errBadIndexRecord)
		}
	}
}
