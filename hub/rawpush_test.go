package hub

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	hubv1 "branchline/gen/branchline/hub/v1"
	replicationv1 "branchline/gen/branchline/replication/v1"
)

func genEvent(t *rapid.T) *replicationv1.Event {
	return &replicationv1.Event{
		Origin: rapid.StringMatching(`[a-z0-9-]{0,12}`).Draw(t, "origin"),
		Seq:    rapid.Uint64().Draw(t, "seq"),
		Hlc:    rapid.Uint64().Draw(t, "hlc"),
		Kind:   rapid.String().Draw(t, "kind"),
		Entity: rapid.String().Draw(t, "entity"),
		Actor:  rapid.String().Draw(t, "actor"),
		Body:   rapid.SliceOf(rapid.Byte()).Draw(t, "body"),
		// A node may send the hub's mark; the hub must not keep it.
		Unchecked: rapid.Bool().Draw(t, "node-marked"),
	}
}

// The state machine's wire-level reading of a Push and encoding of its
// log entries give what decoding and encoding the messages would.
func TestRawPushMatchesMessages(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := &hubv1.Push{Origin: rapid.String().Draw(t, "origin"), MaxOffsetMs: rapid.Int64Min(0).Draw(t, "offset")}
		for range rapid.IntRange(0, 5).Draw(t, "n") {
			p.Events = append(p.Events, genEvent(t))
		}
		cmd := &hubv1.Command{TimeMs: rapid.Int64Min(0).Draw(t, "time"), Op: &hubv1.Command_Push{Push: p}}
		b, err := proto.Marshal(cmd)
		if err != nil {
			t.Fatal(err)
		}
		timeMs, pushBytes, ok, err := splitCommand(b)
		if err != nil || !ok || timeMs != cmd.GetTimeMs() {
			t.Fatalf("splitCommand = %d, %v, %v", timeMs, ok, err)
		}
		rp, err := parsePush(pushBytes)
		if err != nil || rp.origin != p.GetOrigin() || rp.maxOffsetMs != p.GetMaxOffsetMs() || len(rp.events) != len(p.GetEvents()) {
			t.Fatalf("parsePush = %+v, %v", rp, err)
		}
		for i, e := range p.GetEvents() {
			re := rp.events[i]
			if re.origin != e.GetOrigin() || re.seq != e.GetSeq() || re.hlc != e.GetHlc() || re.kind != e.GetKind() {
				t.Fatalf("event %d read as %+v, want %v", i, re, e)
			}
			unchecked := rapid.Bool().Draw(t, "unchecked")
			cb, err := committedBytes(7, 1234, re, unchecked)
			if err != nil {
				t.Fatal(err)
			}
			var got replicationv1.Committed
			if err := proto.Unmarshal(cb, &got); err != nil {
				t.Fatal(err)
			}
			want := proto.CloneOf(e)
			want.Unchecked = unchecked
			if got.GetPosition() != 7 || got.GetCommitTimeMs() != 1234 || !proto.Equal(got.GetEvent(), want) {
				t.Fatalf("committed %v, want %v", &got, want)
			}
			pos, ms, ev, err := decodeCommitted(cb)
			if err != nil || pos != 7 || ms != 1234 || !proto.Equal(ev.ToProto(), want) {
				t.Fatalf("decodeCommitted = %d %d %v %v, want %v", pos, ms, ev, err, want)
			}
		}
	})
}

// FuzzParsePush: any bytes give an error or a push, never a panic.
func FuzzParsePush(f *testing.F) {
	b, _ := proto.Marshal(&hubv1.Command{TimeMs: 5, Op: &hubv1.Command_Push{Push: &hubv1.Push{Origin: "n1",
		Events: []*replicationv1.Event{{Origin: "n1", Seq: 1, Hlc: 2, Kind: "k", Body: []byte("x")}}}}})
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, push, ok, err := splitCommand(b)
		if err != nil || !ok {
			return
		}
		p, err := parsePush(push)
		if err != nil {
			return
		}
		for _, e := range p.events {
			if _, err := committedBytes(1, 1, e, true); err != nil && !e.marked {
				t.Fatalf("committedBytes of an event that parsed: %v", err)
			}
		}
	})
}
