package reptest

import (
	"bytes"
	"errors"
	"slices"

	"pgregory.net/rapid"

	"branchline/replication"
)

// TxKey draws a short key over an alphabet that makes prefixes, the
// separator and 0xff bytes common: the edges of prefix bounds.
func TxKey(t *rapid.T, label string) []byte {
	return rapid.SliceOfN(rapid.SampledFrom([]byte{0, 'a', 'b', 0xff}), 0, 4).Draw(t, label)
}

// CheckScans compares a few scans of tx, both ways, with model (the pairs
// tx should hold), for prefixes and bounds drawn by TxKey.
func CheckScans(t *rapid.T, tx replication.Tx, model map[string][]byte) {
	keys := make([]string, 0, len(model))
	for k := range model {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for range rapid.IntRange(1, 5).Draw(t, "scans") {
		prefix := TxKey(t, "prefix")
		var bound []byte
		if rapid.Bool().Draw(t, "bounded") {
			bound = TxKey(t, "bound")
		}
		limit := rapid.IntRange(1, len(keys)+1).Draw(t, "limit")
		var want []string
		for _, k := range keys {
			if bytes.HasPrefix([]byte(k), prefix) && (bound == nil || k >= string(bound)) {
				want = append(want, k)
			}
		}
		got := collect(t, limit, func(fn func(k, v []byte) (bool, error)) error { return tx.Scan(prefix, bound, fn) }, model)
		compare(t, "Scan", prefix, bound, got, want[:min(limit, len(want))])

		want = want[:0]
		for _, k := range slices.Backward(keys) {
			if bytes.HasPrefix([]byte(k), prefix) && (len(bound) == 0 || k < string(bound)) {
				want = append(want, k)
			}
		}
		got = collect(t, limit, func(fn func(k, v []byte) (bool, error)) error { return tx.ScanReverse(prefix, bound, fn) }, model)
		compare(t, "ScanReverse", prefix, bound, got, want[:min(limit, len(want))])
	}
}

// collect runs a scan, stopping after limit keys, and checks each value.
func collect(t *rapid.T, limit int, scan func(fn func(k, v []byte) (bool, error)) error, model map[string][]byte) []string {
	var got []string
	err := scan(func(k, v []byte) (bool, error) {
		if want := model[string(k)]; !bytes.Equal(v, want) {
			t.Fatalf("value of %q: got %q, want %q", k, v, want)
		}
		got = append(got, string(k))
		return len(got) < limit, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func compare(t *rapid.T, what string, prefix, bound []byte, got, want []string) {
	if !slices.Equal(got, want) {
		t.Fatalf("%s(%q, %q) = %q, want %q", what, prefix, bound, got, want)
	}
}

// RandomWrites makes a few sets and deletions of keys drawn by TxKey in
// tx, and the same in model. label names the draw (and marks the values,
// so that a value written in one phase differs from another's).
func RandomWrites(t *rapid.T, tx replication.Tx, model map[string][]byte, label string) {
	for range rapid.IntRange(0, 15).Draw(t, label) {
		k := TxKey(t, "key")
		if rapid.Bool().Draw(t, "delete") {
			if err := tx.Delete(k); err != nil {
				t.Fatal(err)
			}
			delete(model, string(k))
			continue
		}
		v := []byte{byte(len(model)), byte(len(label))}
		if err := tx.Set(k, v); err != nil {
			t.Fatal(err)
		}
		model[string(k)] = v
	}
}

// CheckReads compares tx's point reads and scans with model in an order
// drawn — a Tx that keeps iterators from one read to the next must answer
// whatever came before — and reads keys inside a scan's callback, which
// must not disturb the scan.
func CheckReads(t *rapid.T, tx replication.Tx, model map[string][]byte) {
	for range rapid.IntRange(1, 12).Draw(t, "reads") {
		switch rapid.IntRange(0, 2).Draw(t, "read") {
		case 0:
			checkGet(t, tx, model, TxKey(t, "get"))
		case 1:
			CheckScans(t, tx, model)
		default:
			prefix := TxKey(t, "prefix")
			var got, want []string
			err := tx.Scan(prefix, nil, func(k, _ []byte) (bool, error) {
				got = append(got, string(k))
				checkGet(t, tx, model, TxKey(t, "get inside a scan"))
				return true, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			for k := range model {
				if bytes.HasPrefix([]byte(k), prefix) {
					want = append(want, k)
				}
			}
			slices.Sort(want)
			compare(t, "Scan with reads in its callback", prefix, nil, got, want)
		}
	}
}

func checkGet(t *rapid.T, tx replication.Tx, model map[string][]byte, k []byte) {
	want, present := model[string(k)]
	got, err := tx.Get(k)
	switch {
	case present && (err != nil || !bytes.Equal(got, want)):
		t.Fatalf("Get(%q) = %q, %v; want %q", k, got, err, want)
	case !present && !errors.Is(err, replication.ErrNotFound):
		t.Fatalf("Get(%q) = %q, %v; want not found", k, got, err)
	}
}
