package web_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"branchline/access"
	"branchline/node"
	"branchline/wiring"
)

// adminCatalog reads the administration messages of lang.
func adminCatalog(t *testing.T, lang string) map[string]string {
	t.Helper()
	b, err := os.ReadFile("i18n/" + lang + "/admin.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestRoleFormGroupsPermissions: the role editor shows the permissions
// area by area — customers, calls, pickups, finance, stock,
// administration — each area with its title and a sentence, each
// permission inside its area with a sentence saying what it allows; in
// zh-CN and in English. The default roles of a fresh node are listed under
// their names in the reader's language, and saving one unchanged changes
// nothing.
func TestRoleFormGroupsPermissions(t *testing.T) {
	n, err := wiring.StartNode(wiring.NodeConfig{Config: node.Config{ID: "br-web", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminPassword: webPassword}, DefaultRoles: access.DefaultRoles()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	for _, lang := range []string{"zh-CN", "en"} {
		t.Run(lang, func(t *testing.T) {
			cat := adminCatalog(t, lang)
			c := newAdminClient(t, n.URL(), "admin", webPassword)
			u, _ := url.Parse(n.URL())
			c.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "lang", Value: lang}})

			code, body := c.get("/admin/roles/new")
			c.expect("the new role form", code, http.StatusOK, body)
			body = html.UnescapeString(body)
			last := -1
			for _, a := range access.Areas {
				start := strings.Index(body, `id="area-`+string(a)+`"`)
				if start < last {
					t.Fatalf("area %s missing or out of order", a)
				}
				last = start
				end := start + strings.Index(body[start:], "</section>")
				section := body[start:end]
				for _, k := range []string{"admin.area." + string(a), "admin.area." + string(a) + ".about"} {
					if cat[k] == "" || !strings.Contains(section, cat[k]) {
						t.Errorf("area %s lacks %s %q", a, k, cat[k])
					}
				}
				for _, info := range access.Catalogue() {
					in := strings.Contains(section, `value="`+string(info.Perm)+`"`)
					if in != (info.Area == a) {
						t.Errorf("permission %s (area %s) in area %s: %v", info.Perm, info.Area, a, in)
					}
					if !in {
						continue
					}
					for _, k := range []string{"admin.perm." + string(info.Perm), "admin.permdesc." + string(info.Perm)} {
						if cat[k] == "" || !strings.Contains(section, cat[k]) {
							t.Errorf("permission %s lacks %s %q in its area", info.Perm, k, cat[k])
						}
					}
				}
			}

			code, body = c.get("/admin/roles")
			c.expect("the roles", code, http.StatusOK, body)
			body = html.UnescapeString(body)
			for _, d := range access.DefaultRoles() {
				for _, k := range []string{"admin.role." + d.Key, "admin.role." + d.Key + ".about"} {
					if cat[k] == "" || !strings.Contains(body, cat[k]) {
						t.Errorf("default role %s: the list lacks %s %q", d.Key, k, cat[k])
					}
				}
			}
		})
	}

	// The agent's form shows its permissions ticked, the phone not; posted
	// back as shown it changes nothing.
	c := newAdminClient(t, n.URL(), "admin", webPassword)
	agent := access.DefaultRoles()[0]
	code, body := c.get("/admin/roles/" + agent.ID)
	c.expect("the agent role's form", code, http.StatusOK, body, `value="customer.read" checked`, `value="pickup.write" checked`, `value="customer.phone">`)
	form := url.Values{"display_name": {agent.Name}, "description": {agent.Description}, "time_zone": {""}}
	for p, s := range agent.Perms {
		form.Add("perm", string(p))
		form.Set("scope."+string(p), s.String())
	}
	code, loc := c.post("/admin/roles/"+agent.ID, form)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/admin/roles/"+agent.ID) {
		t.Fatalf("saving the agent role unchanged: status %d, to %q; want back to the role, unchanged", code, loc)
	}
}
