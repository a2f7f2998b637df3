package keyset

import (
	"bytes"
	"slices"
	"testing"
)

// Keys order by value, then id; VarID reads back what VarKey wrote, NULs
// and all.
func TestKeys(t *testing.T) {
	vals := []struct {
		v  string
		id string
	}{{"", "b"}, {"a", "a"}, {"a", "b"}, {"a\x00", "a"}, {"ab", ""}, {"b", "a\x00b"}}
	var keys [][]byte
	for _, x := range vals {
		k := VarKey([]byte(x.v), x.id)
		if got := VarID(k); got != x.id {
			t.Errorf("VarID(VarKey(%q, %q)) = %q", x.v, x.id, got)
		}
		keys = append(keys, k)
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Error("keys do not sort in value, id order")
	}
}

// Pages of a slice, forwards and backwards, meet with no gap or overlap.
func TestReadPages(t *testing.T) {
	var keys [][]byte
	for i := range 7 {
		keys = append(keys, Key([]byte{byte('a' + i)}, "x"))
	}
	src := Slice(slices.Clone(keys))
	for _, desc := range []bool{false, true} {
		want := slices.Clone(keys)
		if desc {
			slices.Reverse(want)
		}
		var got [][]byte
		r := Request{Desc: desc, Limit: 3}
		for {
			p, err := Read(src, r)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Keys...)
			if p.Next == nil {
				break
			}
			r = Request{Desc: desc, Limit: 3, Cursor: p.Next}
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("desc=%v forward: %q", desc, got)
		}
		got = nil
		r = Request{Desc: desc, Limit: 3, Last: true}
		for {
			p, err := Read(src, r)
			if err != nil {
				t.Fatal(err)
			}
			got = append(slices.Clone(p.Keys), got...)
			if p.Prev == nil {
				break
			}
			r = Request{Desc: desc, Limit: 3, Cursor: p.Prev, Back: true}
		}
		if !slices.EqualFunc(got, want, bytes.Equal) {
			t.Errorf("desc=%v backward: %q", desc, got)
		}
	}
}

// Numbers sort as numbers; negative ones as 0.
func TestNumbers(t *testing.T) {
	for _, c := range []struct{ a, b int64 }{{0, 1}, {9, 10}, {255, 256}, {1 << 40, 1<<40 + 1}} {
		if bytes.Compare(Int(c.a), Int(c.b)) >= 0 {
			t.Errorf("Int(%d) does not sort before Int(%d)", c.a, c.b)
		}
	}
	if !bytes.Equal(Int(-5), Int(0)) || !bytes.Equal(Uint(7), Int(7)) {
		t.Error("Int(-5) is not Int(0), or Uint and Int differ")
	}
}
