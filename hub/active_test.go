package hub

import "testing"

// A compound kind is active once the cluster version holds both its kinds
// and compound events: until every member can apply compounds, members
// of both releases park them alike.
func TestCompoundKindsActive(t *testing.T) {
	const compound = "access.user.field_set+access.audit.recorded"
	for _, c := range []struct {
		name   string
		active map[string]bool
		want   bool
	}{
		{"baseline (before cluster versions)", nil, false},
		{"both kinds, members without compounds", map[string]bool{"access.user.field_set": true, "access.audit.recorded": true}, false},
		{"compounds, one kind missing", map[string]bool{"compound:1": true, "access.user.field_set": true}, false},
		{"compounds and both kinds", map[string]bool{"compound:1": true, "access.user.field_set": true, "access.audit.recorded": true}, true},
	} {
		if got := activeIn(c.active, compound); got != c.want {
			t.Errorf("%s: active %v, want %v", c.name, got, c.want)
		}
	}
	if !activeIn(nil, "access.user.field_set") {
		t.Error("a baseline kind is not active before cluster versions")
	}
}
