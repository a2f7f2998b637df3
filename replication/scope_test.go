package replication

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestScopeNames(t *testing.T) {
	for _, c := range []struct {
		scope, kind, id string
	}{
		{BranchScope("sh-pudong"), "b", "sh-pudong"},
		{WarehouseScope("SH01"), "w", "SH01"},
		{EscrowScope("SH01"), "e", "SH01"},
		{CourierScope("li.wei"), "c", "li.wei"},
		{CompanyScope, "", ""},
	} {
		if k, id := ScopeKind(c.scope); k != c.kind || id != c.id {
			t.Errorf("ScopeKind(%q) = %q, %q; want %q, %q", c.scope, k, id, c.kind, c.id)
		}
	}
}

func TestValidScope(t *testing.T) {
	for _, c := range []struct {
		scope string
		ok    bool
	}{
		{"b:sh-pudong", true},
		{"w:SH01", true},
		{"e:SH01", true},
		{"c:li.wei", true},
		{"x:SH01", false},
		{"SH01", false},
		{"w:", false},
		{"e:a:b", false},
		{"b:a\x00b", false},
		{"w:" + strings.Repeat("a", MaxIDLen*2+1), false},
	} {
		if err := validScope(c.scope); (err == nil) != c.ok {
			t.Errorf("validScope(%q) = %v; want ok %v", c.scope, err, c.ok)
		}
	}
}

func TestNormalScopes(t *testing.T) {
	for _, c := range []struct {
		name string
		home string
		more []string
		want []string
	}{
		{"company-wide", CompanyScope, nil, []string{}},
		{"home only", "w:A", nil, []string{"w:A"}},
		{"home first, rest sorted", "w:B", []string{"b:n2", "e:B", "b:n1"}, []string{"w:B", "b:n1", "b:n2", "e:B"}},
		{"duplicates and the home dropped from the rest", "e:A", []string{"w:A", "e:A", "w:A", CompanyScope}, []string{"e:A", "w:A"}},
		{"company home: the rest sorted", CompanyScope, []string{"b:n1", "b:n0"}, []string{"b:n0", "b:n1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := NormalScopes(c.home, c.more...); !slices.Equal(got, c.want) {
				t.Fatalf("NormalScopes(%q, %q) = %q; want %q", c.home, c.more, got, c.want)
			}
		})
	}
}

func TestInScopes(t *testing.T) {
	held := []string{"b:n1", "w:A", "e:B"}
	for _, c := range []struct {
		ev   []string
		want bool
	}{
		{nil, true},
		{[]string{"w:A"}, true},
		{[]string{"w:B", "e:B"}, true},
		{[]string{"w:B", "b:n2"}, false},
		{[]string{"c:li.wei"}, false},
	} {
		if got := InScopes(c.ev, held); got != c.want {
			t.Errorf("InScopes(%q) = %v; want %v", c.ev, got, c.want)
		}
	}
	if HomeScope(&Event{}) != CompanyScope || HomeScope(&Event{Scopes: []string{"w:A", "b:n1"}}) != "w:A" {
		t.Fatal("the home scope is the first")
	}
}

// A kind's scope rule runs where the event is made; kinds without one are
// company-wide, and a rule's error names the event.
func TestRegistryScopes(t *testing.T) {
	r := NewRegistry()
	noop := func(Tx, *Event, *wrapperspb.StringValue) error { return nil }
	Handle(r, "test.counter.added", noop, nil)
	Handle(r, "test.other", noop, nil)
	ScopeBy(r, "test.counter.added", func(_ Tx, ev *Event) ([]string, error) {
		if ev.Entity == "bad" {
			return nil, errors.New("no scope")
		}
		return NormalScopes(BranchScope(ev.Origin)), nil
	})
	ev := &Event{Origin: "n1", Seq: 1, Kind: "test.counter.added", Entity: "x"}
	if got, err := r.Scopes(nil, ev); err != nil || !slices.Equal(got, []string{"b:n1"}) {
		t.Fatalf("Scopes = %q, %v", got, err)
	}
	if got, err := r.Scopes(nil, &Event{Origin: "n1", Kind: "test.other"}); err != nil || got != nil {
		t.Fatalf("a kind without a rule: %q, %v", got, err)
	}
	ev.Entity = "bad"
	if _, err := r.Scopes(nil, ev); err == nil || !strings.Contains(err.Error(), "test.counter.added") {
		t.Fatalf("a rule's error: %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("a scope for an unregistered kind must panic")
		}
	}()
	ScopeBy(r, "test.unknown", nil)
}
