package wiring

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLayers keeps the house's layering: the node and the hub know no
// domain, the pages no Connect, the CRM no telephony. Everything that
// knows both sides is wiring's.
func TestLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, c := range []struct {
		pkgs      string
		forbidden []string
	}{
		{"branchline/node", []string{"branchline/access", "branchline/crm", "branchline/crm/pickup", "branchline/telephony",
			"branchline/telephony/pbx", "branchline/warehouse", "branchline/api", "branchline/web", "branchline/kinds", "branchline/app"}},
		{"branchline/hub", []string{"branchline/web", "branchline/api", "branchline/kinds", "branchline/access", "branchline/crm",
			"branchline/telephony", "branchline/warehouse", "branchline/app"}},
		{"branchline/web/...", []string{"connectrpc.com/connect", "*v1connect"}},
		{"branchline/crm/...", []string{"branchline/telephony*"}},
	} {
		out, err := exec.Command("go", "list", "-deps", c.pkgs).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", c.pkgs, err)
		}
		deps := strings.Fields(string(out))
		for _, f := range c.forbidden {
			if i := slices.IndexFunc(deps, func(d string) bool { return matches(f, d) }); i >= 0 {
				t.Errorf("%s depends on %s (%s)", c.pkgs, deps[i], f)
			}
		}
	}
}

// matches reports whether package p is what pattern names: a path, or
// with '*' a prefix ("branchline/telephony*") or a last element's suffix
// ("*v1connect").
func matches(pattern, p string) bool {
	switch {
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(p, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(p, pattern[:len(pattern)-1])
	}
	return p == pattern
}
