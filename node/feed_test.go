package node

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"branchline/replication"
)

// A feed collects, with each write, the entities a task must look at next:
// own writes and pulled ones alike, and its entries go once the task has
// dealt with them — not those written meanwhile.
func TestFeedCollectsChangedEntities(t *testing.T) {
	reg := testRegistry()
	reg.AddFeed(replication.Feed{Name: "test.keys", Watch: func(k []byte) (string, bool) {
		rest, ok := strings.CutPrefix(string(k), "set\x00")
		return rest, ok && rest != "ignored"
	}})
	s, err := OpenStore(StoreConfig{Dir: t.TempDir(), ID: "sh-pudong", Registry: reg, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Exec(ctx, "alice", set("a=1", "b=2", "ignored=3")); err != nil {
		t.Fatal(err)
	}
	if err := s.ApplyRemote(ctx, remoteEvents("bj-chaoyang", 1, 1, "x"), 1, 1); err != nil {
		t.Fatal(err)
	}
	entities := func() ([]replication.FeedEntry, []string) {
		t.Helper()
		es, err := s.FeedEntries("test.keys", 100)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Entity)
		}
		slices.Sort(names)
		return es, names
	}
	es, names := entities()
	if want := []string{"a", "b", "bj-chaoyang1"}; !slices.Equal(names, want) {
		t.Fatalf("feed holds %v, want %v", names, want)
	}
	if _, err := s.Exec(ctx, "alice", set("a=4")); err != nil { // changed again meanwhile
		t.Fatal(err)
	}
	if err := s.DeleteFeedEntries(ctx, es); err != nil {
		t.Fatal(err)
	}
	if _, names := entities(); !slices.Equal(names, []string{"a"}) {
		t.Fatalf("after the task dealt with the first entries, the feed holds %v, want [a]", names)
	}
}
