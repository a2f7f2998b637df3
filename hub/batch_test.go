package hub

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	replicationv1 "branchline/gen/branchline/replication/v1"
)

// TestEventsResponse: a Pull message that carries its events as stored
// decodes, at a node, to the same events in the same order as a message
// built from the decoded events, beside the fields set on it.
func TestEventsResponse(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var b batch
		var want []*replicationv1.Committed
		for i := range rapid.IntRange(0, 20).Draw(t, "events") {
			c := &replicationv1.Committed{
				Position:     uint64(i + 1),
				CommitTimeMs: rapid.Int64Range(0, 1<<42).Draw(t, "time"),
				Event: &replicationv1.Event{
					Origin: rapid.StringMatching(`br-[a-z]{1,4}`).Draw(t, "origin"),
					Seq:    rapid.Uint64().Draw(t, "seq"),
					Hlc:    rapid.Uint64().Draw(t, "hlc"),
					Kind:   "crm.customer.created",
					Entity: rapid.StringMatching(`customer/[0-9A-Z]{0,26}`).Draw(t, "entity"),
					Body:   rapid.SliceOf(rapid.Byte()).Draw(t, "body"),
					Scopes: rapid.SliceOf(rapid.StringMatching(`b:br-[a-z]{1,3}`)).Draw(t, "scopes"),
				},
			}
			raw, err := marshalDeterministic(c)
			if err != nil {
				t.Fatal(err)
			}
			b.add(raw)
			want = append(want, c)
		}
		b.followed = rapid.SliceOf(rapid.Uint64()).Draw(t, "followed")
		m := eventsResponse(b)
		m.Position, m.Head = 7, 9
		wire, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var got replicationv1.PullResponse
		if err := proto.Unmarshal(wire, &got); err != nil {
			t.Fatal(err)
		}
		if b.n != len(want) || len(got.GetEvents()) != len(want) {
			t.Fatalf("%d events framed, %d decoded, want %d", b.n, len(got.GetEvents()), len(want))
		}
		for i, c := range want {
			if !proto.Equal(got.GetEvents()[i], c) {
				t.Fatalf("event %d: got %v, want %v", i, got.GetEvents()[i], c)
			}
		}
		if got.GetPosition() != 7 || got.GetHead() != 9 || len(got.GetFollowed()) != len(b.followed) {
			t.Fatalf("fields beside the events: %v", &got)
		}
		for i, p := range b.followed {
			if got.GetFollowed()[i] != p {
				t.Fatalf("followed[%d] = %d, want %d", i, got.GetFollowed()[i], p)
			}
		}
	})
}
