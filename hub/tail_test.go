package hub

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	replicationv1 "branchline/gen/branchline/replication/v1"
)

func tailEntryAt(t *rapid.T, pos uint64) *tailEntry {
	raw, err := committedBytes(pos, 1, rawEvent{origin: "br-a", seq: pos, kind: "crm.customer.created", raw: mustMarshal(t, &replicationv1.Event{Origin: "br-a", Seq: pos, Kind: "crm.customer.created"})}, false)
	if err != nil {
		t.Fatal(err)
	}
	e, err := newTailEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustMarshal(t *rapid.T, e *replicationv1.Event) []byte {
	b, err := marshalDeterministic(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The ring answers a position only when it holds it (or it is the one after
// the last held), with the entries at consecutive positions from it — the
// latest size at most, across wrap-arounds, gaps and resets.
func TestTailRing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := tail{size: 64}
		var lo, hi uint64 // model: positions lo..hi held (hi < lo: none)
		next := uint64(1)
		for range rapid.IntRange(1, 30).Draw(t, "steps") {
			switch rapid.IntRange(0, 9).Draw(t, "op") {
			case 0:
				r.reset()
				lo, hi = 1, 0
			case 1: // a gap: the ring starts afresh
				next += uint64(rapid.IntRange(1, 5).Draw(t, "gap"))
				fallthrough
			default:
				n := rapid.SampledFrom([]int{1, 3, 20, 63, 64, 71}).Draw(t, "n")
				ents := make([]*tailEntry, n)
				for i := range ents {
					ents[i] = tailEntryAt(t, next+uint64(i))
				}
				if hi < lo || hi+1 != next {
					lo = next
				}
				r.add(ents)
				next += uint64(n)
				hi = next - 1
				if hi-lo+1 > uint64(r.size) {
					lo = hi - uint64(r.size) + 1
				}
			}
			pos := rapid.Uint64Range(max(lo, 3)-2, next+2).Draw(t, "pos")
			got, ok := r.from(pos, 100)
			want := hi >= lo && pos >= lo && pos <= hi+1
			if ok != want {
				t.Fatalf("from(%d): ok %v, want %v (held %d..%d)", pos, ok, want, lo, hi)
			}
			if !ok {
				continue
			}
			if w := min(100, int(hi+1-pos)); len(got) != w {
				t.Fatalf("from(%d): %d entries, want %d", pos, len(got), w)
			}
			for i, e := range got {
				var c replicationv1.Committed
				if err := proto.Unmarshal(e.raw, &c); err != nil {
					t.Fatal(err)
				}
				if e.e.pos != pos+uint64(i) || c.GetPosition() != pos+uint64(i) || string(e.e.origin) != "br-a" {
					t.Fatalf("from(%d)[%d] is position %d (decoded %d)", pos, i, e.e.pos, c.GetPosition())
				}
			}
		}
	})
}
