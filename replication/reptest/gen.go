package reptest

import (
	"pgregory.net/rapid"

	"branchline/replication"
)

// BaseMillis is the wall-clock millisecond generated timestamps start
// from (late 2026), so that generated HLCs look like real ones.
const BaseMillis = 1_790_000_000_000

// Origins stamps generated events the way stores do: each origin's seq is
// gapless from 1 and its HLC strictly increases. Before each event the
// origin may observe another origin's clock, as if it had pulled that
// origin's latest event, so the streams are partly causal and partly
// concurrent; origins share a few wall milliseconds, so equal HLCs of
// different origins happen and the origin tie-break is exercised.
type Origins struct {
	Names   []string
	Streams [][]*replication.Event // per origin, in seq order
	clocks  []replication.HLC
}

// NewOrigins returns a generator for the named origins, which must be
// valid node ids.
func NewOrigins(names ...string) *Origins {
	return &Origins{
		Names:   names,
		Streams: make([][]*replication.Event, len(names)),
		clocks:  make([]replication.HLC, len(names)),
	}
}

// Append draws the envelope of a new event of origin o (an index into
// Names), appends the event to o's stream and returns it.
func (g *Origins) Append(t *rapid.T, o int, kind, entity string, body []byte) *replication.Event {
	if rapid.Bool().Draw(t, "observe") {
		if p := rapid.IntRange(0, len(g.Names)-1).Draw(t, "peer"); g.clocks[p] > g.clocks[o] {
			g.clocks[o] = g.clocks[p]
		}
	}
	wall := replication.MakeHLC(BaseMillis+int64(rapid.IntRange(0, 4).Draw(t, "ms")), 0)
	g.clocks[o] = max(g.clocks[o]+1, wall)
	ev := &replication.Event{
		Origin: g.Names[o], Seq: uint64(len(g.Streams[o]) + 1), HLC: g.clocks[o],
		Kind: kind, Entity: entity, Actor: "tester", Body: body,
	}
	g.Streams[o] = append(g.Streams[o], ev)
	return ev
}

// Interleave draws one delivery order of streams: each stream's events in
// its own order, streams mixed at random, and now and then an event
// delivered again (as after a lost cursor or a retried pull). label
// tells apart the draws of several interleavings in rapid's output.
func Interleave(t *rapid.T, streams [][]*replication.Event, label string) []*replication.Event {
	next := make([]int, len(streams))
	var out []*replication.Event
	for {
		var open []int
		for i, s := range streams {
			if next[i] < len(s) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			return out
		}
		o := rapid.SampledFrom(open).Draw(t, label+"-pick")
		out = append(out, streams[o][next[o]])
		if next[o] > 0 && rapid.IntRange(0, 4).Draw(t, label+"-dup") == 0 {
			out = append(out, streams[o][rapid.IntRange(0, next[o]-1).Draw(t, label+"-dupof")])
		}
		next[o]++
	}
}

// ApplyAll applies evs, in order, to a new Mem through replication.Views,
// in transactions of random size as stores make them, and checks that the
// incremental digest equals the digest of the views computed from
// scratch. It returns the store and its views.
func ApplyAll(t *rapid.T, reg *replication.Registry, evs []*replication.Event) (*Mem, *replication.Views) {
	m := NewMem()
	views, err := replication.OpenViews(reg, m)
	if err != nil {
		t.Fatalf("open views: %v", err)
	}
	for len(evs) > 0 {
		n := min(len(evs), rapid.IntRange(1, 8).Draw(t, "batch"))
		b := views.Begin(m)
		for _, ev := range evs[:n] {
			if _, err := b.Apply(ev); err != nil {
				t.Fatalf("apply %s: %v", ev, err)
			}
		}
		if err := b.Finish(); err != nil {
			t.Fatalf("finish: %v", err)
		}
		b.Commit()
		evs = evs[n:]
	}
	full, err := replication.DigestOf(m, replication.ViewPrefix)
	if err != nil {
		t.Fatalf("digest of views: %v", err)
	}
	if full != views.Digest() {
		t.Fatalf("incremental digest %v != digest of the views %v", views.Digest(), full)
	}
	return m, views
}
